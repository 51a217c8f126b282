/**
 * The photo system's switches, declared once (docs/lab.md §2): the kit derives `MITIGATIONS` /
 * `MITIGATION_<NAME>` parsing, the live state, `GET/PUT /admin/mitigations` and the
 * `faultline_mitigation_enabled` gauge from this manifest. The defaults are the hardened service;
 * "naive" is every switch of an experiment off.
 */
import { defineSwitches, type SwitchName, SwitchState, type SwitchValues } from '@faultline/kit/switches'

export const switches = defineSwitches({
  durableAck: {
    description:
      'an upload is answered 201 only after S3 confirmed the object, and 503 + Retry-After while S3 fails; off = 201 once the bytes are received and spooled locally, the S3 write done afterwards (a crash or an S3 outage loses acknowledged uploads)',
    default: true,
    defends: ['pm08'],
  },
  s3Breaker: {
    description:
      'a circuit breaker around S3: while it is open, uploads fail fast with 503 + Retry-After, and a job that finds S3 unavailable waits for it without spending an attempt; off = every request and job tries S3 and waits for its timeout, and jobs spend their attempts on an outage (then dead-lettered)',
    default: true,
    defends: ['pm08'],
  },
  timeoutFromStart: {
    description:
      "a job's time limit (JOB_TIMEOUT_MS) counts from when a worker starts it; off = from when it was enqueued, so after a backlog every job is late before it runs and is re-queued forever",
    default: true,
    defends: ['pm07'],
  },
  deadLetter: {
    description:
      'after JOB_ATTEMPTS a job goes to the dead-letter queue with its reason and the photo is failed; off = retried without end, a poison image holding a worker slot',
    default: true,
    defends: ['pm17'],
  },
  sandboxedProcessing: {
    description:
      "image processing runs in worker threads, so the worker's event loop keeps renewing job locks; off = on the event loop, where a HEIC's decode (WebAssembly, synchronous, ≈ 0.6 s per 12 MP) holds the loop, lock renewal waits, locks lapse and jobs run twice",
    default: true,
    defends: ['pm21'],
  },
})

export type MitigationName = SwitchName<typeof switches>
export type Mitigations = SwitchValues<typeof switches>
/** The live switches of one process (components read `current`, or `subscribe`). */
export type MitigationState = SwitchState<MitigationName>

export function createMitigationState(initial: Partial<Mitigations> = {}): MitigationState {
  return new SwitchState(switches, initial)
}
