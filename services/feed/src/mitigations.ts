/**
 * The feed's switches, declared once (see docs/lab.md §2): the kit derives `MITIGATIONS` /
 * `MITIGATION_<NAME>` parsing, the live state, `GET/PUT /admin/mitigations` and the
 * `faultline_mitigation_enabled` gauge from this manifest. The defaults are the hardened service;
 * "naive" is every switch of an experiment off.
 */
import { defineSwitches, type SwitchName, SwitchState, type SwitchValues } from '@faultline/kit/switches'

export const switches = defineSwitches({
  hybridFanout: {
    description:
      'authors with at least FANOUT_CELEBRITY_THRESHOLD followers are not pushed; their recent posts are merged in at read time; off = every post is pushed to every active follower',
    default: true,
    defends: ['pm18'],
  },
  readYourWrites: {
    description:
      "a user's reads go to the primary until the replica has replayed their last commit (LSN tracked per user); off = reads go to the replica whatever its lag",
    default: true,
    defends: ['pm14'],
  },
  rebuildSingleFlight: {
    description:
      'concurrent reads of one cold timeline share one rebuild, in-process and across instances (a Redis lease)',
    default: true,
    defends: ['pm02'],
  },
  rebuildAdmission: {
    description:
      'at most REBUILD_CONCURRENCY rebuilds at once per instance, REBUILD_QUEUE waiting up to REBUILD_WAIT_MS; excess reads get 206 + Retry-After instead of a Postgres query',
    default: true,
    defends: ['pm02'],
  },
  commitAfterFanout: {
    description:
      "a fan-out worker commits a batch's offsets only after its deliveries are applied; off = offsets are committed as messages arrive (at-most-once: a killed worker loses its batch)",
    default: true,
    defends: ['pm15'],
  },
})

export type MitigationName = SwitchName<typeof switches>
export type Mitigations = SwitchValues<typeof switches>
/** The live switches of one process (components read `current`, or `subscribe`). */
export type MitigationState = SwitchState<MitigationName>

export function createMitigationState(initial: Partial<Mitigations> = {}): MitigationState {
  return new SwitchState(switches, initial)
}
