/**
 * The notification service's switches, declared once (docs/lab.md §2): the kit derives
 * `MITIGATIONS` / `MITIGATION_<NAME>` parsing, the live state, `GET/PUT /admin/mitigations` and the
 * `faultline_mitigation_enabled` gauge from this manifest. The defaults are the hardened service;
 * "naive" is every switch of an experiment off.
 */
import { defineSwitches, type SwitchName, SwitchState, type SwitchValues } from '@faultline/kit/switches'

export const switches = defineSwitches({
  deliveryRecord: {
    description:
      'a channel worker sends only while the delivery record (Postgres) is still pending, claimed by a conditional update, and marks it sent after the provider answered; off = every run of a job sends (a job run again after a stall, a kill or a lost reply sends again)',
    default: true,
    defends: ['pm11', 'pm15'],
  },
  providerIdempotencyKey: {
    description:
      'the delivery id goes to the provider as its Idempotency-Key, so a provider that honours keys sends a repeated request once; off = no key',
    default: true,
    defends: ['pm11', 'pm15'],
  },
  providerDeadline: {
    description:
      "one provider attempt per job run with PROVIDER_TIMEOUT_MS (above the provider's own budget), retried later by the queue with backoff; off = PROVIDER_NAIVE_TIMEOUT_MS and PROVIDER_NAIVE_RETRIES immediate blind retries inside the run",
    default: true,
    defends: ['pm11'],
  },
  deadLetter: {
    description:
      'a poison job (it can never succeed) or one that exhausted JOB_ATTEMPTS goes to the dead-letter queue with its reason and is counted; off = dropped: left failed in BullMQ, the delivery never reaches a terminal state',
    default: true,
    defends: ['pm17'],
  },
  ttlCheck: {
    description:
      "nothing is sent past its notification's TTL: checked when the router takes it and again right before each send (expired instead); off = a backlog drained after an outage sends stale messages",
    default: true,
    defends: ['pm17'],
  },
  sharedProducer: {
    description:
      "the outbox relay publishes through one idempotent Kafka producer per process, connected once and reused; off = a new producer for every outbox row, never disconnected (PagerDuty, 2024: a producer per request; the broker's connections and memory climb until it refuses new ones and sends fail)",
    default: true,
    defends: ['pm16'],
  },
})

export type MitigationName = SwitchName<typeof switches>
export type Mitigations = SwitchValues<typeof switches>
/** The live switches of one process (components read `current`, or `subscribe`). */
export type MitigationState = SwitchState<MitigationName>

export function createMitigationState(initial: Partial<Mitigations> = {}): MitigationState {
  return new SwitchState(switches, initial)
}
