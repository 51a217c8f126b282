/**
 * The switches the chaos experiments flip, declared once: the kit derives the env parsing
 * (`MITIGATIONS`, `MITIGATION_<NAME>`), the live state, `GET/PUT /admin/mitigations` and the
 * `faultline_mitigation_enabled` gauge from this manifest, and the lab takes env names and the
 * validation of an experiment's switches from it. Business code reads them from one
 * `MitigationState` (never from process.env), so a PUT changes behaviour at run time and a user
 * can watch the effect while load runs. "Naive" is every switch of an experiment off; the
 * defaults here are the hardened service.
 */
import { defineSwitches, type SwitchName, SwitchState, type SwitchValues } from '@faultline/kit/switches'

export const switches = defineSwitches({
  singleFlight: {
    description:
      'concurrent cache misses on one code share one Postgres read, in-process and across instances through a Redis fill lease',
    default: true,
    defends: ['pm10', 'pm02'],
  },
  ttlJitter: {
    description: '±CACHE_TTL_JITTER on every cache TTL, so keys filled together do not expire together',
    default: true,
    defends: ['pm10', 'pm02'],
  },
  staleWhileRevalidate: {
    description: 'past its soft TTL an entry is still served while one background fill refreshes it',
    default: true,
    defends: ['pm10'],
  },
  negativeCache: {
    description: 'unknown codes are cached (short TTL), so a scan of random codes does not reach Postgres',
    default: true,
    defends: [],
  },
  coldPathLimit: {
    description: 'a bulkhead on the Postgres fills of the miss path; excess misses get a fast 503',
    default: true,
    defends: ['pm02'],
  },
  readinessIndependentOfDeps: {
    description: '/readyz reflects this process only; off = it also checks Postgres (the naive probe)',
    default: true,
    defends: ['pm03'],
  },
  clickSpool: {
    description: 'click events wait in a bounded spool while Kafka is down; off = fire-and-forget send',
    default: true,
    defends: ['pm04'],
  },
  migrationLockTimeout: {
    description:
      "this process's migrations run with lock_timeout = MIGRATE_LOCK_TIMEOUT_MS and retry with backoff; off = DDL waits for its lock forever and every query on the table queues behind it",
    default: true,
    defends: ['pm13'],
  },
})

export type MitigationName = SwitchName<typeof switches>
export type Mitigations = SwitchValues<typeof switches>
/** The live switches of one process (components read `current`, or `subscribe`). */
export type MitigationState = SwitchState<MitigationName>

export function createMitigationState(initial: Partial<Mitigations> = {}): MitigationState {
  return new SwitchState(switches, initial)
}
