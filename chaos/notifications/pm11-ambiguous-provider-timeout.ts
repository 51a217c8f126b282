/**
 * pm11 — an ambiguous timeout and a blind retry repeat a side effect (Stripe, "Designing robust
 * and predictable APIs with idempotency"): the email provider takes 3 s to accept a message, the
 * channel worker gives up on it after 1 s, and the message was sent all the same.
 *
 * The whole pipeline runs (API → outbox → relay → Kafka → router → BullMQ → channel worker); k6
 * posts notifications for the email channel, each with an Idempotency-Key of its own and a body no
 * other notification has. The provider is the project's fake (in the lab's process,
 * lib/shared-providers.ts) with latencyMs 3000 from the start: a standing condition, no timeline.
 * It records a send once its latency has passed whether or not the client is still waiting — as a
 * real provider does — and counts what each recipient got: sends beyond the first per
 * Idempotency-Key, or per (to, body) for requests that carry none (`duplicateSends`).
 *
 * Naive (deliveryRecord, providerIdempotencyKey and providerDeadline off): each job run tries the
 * provider with PROVIDER_NAIVE_TIMEOUT_MS = 1 s and PROVIDER_NAIVE_RETRIES = 3 immediate blind
 * retries, no key; every attempt times out, and every attempt is sent 2 s later. The run ends
 * "failed" and BullMQ runs the job again (JOB_ATTEMPTS runs, 8 by default, 3 here and 2 in the CI
 * variant so a mode ends in seconds). The email provider's circuit breaker (on in both modes, not
 * this experiment's subject; its consecutive-failure rule set out of the way, BREAKER_FAILURES
 * 1e6, else it would open after 5 timeouts) opens once half of ≥ 20 calls in 10 s failed — after
 * about 20 timed-out attempts, every one of them a message sent — and from then on jobs are
 * deferred without reaching the provider (an open breaker spends no attempt, sender/backoff.ts),
 * with a probe every BREAKER_OPEN_MS that times out and is sent too. The recipients got several
 * copies of some messages and none of the others, and the service records none of them sent: it
 * believes it has sent nothing (until 2026-12-06 evening an open breaker spent attempts, and every
 * delivery ended dead-lettered `exhausted`).
 * Hardened: one attempt per run with PROVIDER_TIMEOUT_MS = 10 s, above the provider's budget, so
 * the slow success is seen as one; the delivery record is claimed only while pending, and the
 * delivery id goes to the provider as its Idempotency-Key, so even a retry would be answered from
 * the key instead of sent again: one send per notification, every one recorded sent.
 *
 * Invariants: duplicate sends at the provider = 0 (fails naive); every accepted notification sent
 * and reached the provider (fails naive: dead-lettered); posts accepted (both). Measured on this
 * 2-core machine: see docs/notifications.md (failure modes).
 */
import {
  defineExperiment,
  errorRateBelow,
  type HookContext,
  invariant,
  type RunContext,
} from '@faultline/lab'
import notifications from '@faultline/notifications/system'
import {
  everyAcceptedSent,
  noDuplicateSends,
  provider,
  putEmailRecipients,
  resetWithProviders,
  settled,
} from './lib/pm11-pm15-sends.ts'
import { isolatedWorld } from './lib/world.ts'

const recipients = 20
const providerLatencyMs = 3000
const world = isolatedWorld('pm11', {
  PROVIDER_NAIVE_TIMEOUT_MS: '1000',
  PROVIDER_NAIVE_RETRIES: '3',
  PROVIDER_TIMEOUT_MS: '10000',
  JOB_ATTEMPTS: '3',
  JOB_BACKOFF_MS: '200',
  JOB_BACKOFF_MAX_MS: '1000',
  // A naive job holds its slot for 4 s a run: enough slots that the queue never waits for one.
  WORKER_CONCURRENCY: '60',
  WORKER_CHANNELS: 'email',
  // The breaker's consecutive-failure rule (5 by default) would stop the naive sends after the
  // first five timeouts and hide the mechanism; its failure-rate rule (half of ≥ 20 calls in 10 s)
  // stays, and still opens.
  BREAKER_FAILURES: '1000000',
})

async function reset(ctx: HookContext): Promise<void> {
  await resetWithProviders(ctx, world, { [provider]: { latencyMs: providerLatencyMs } })
}

async function setup(ctx: HookContext): Promise<void> {
  await putEmailRecipients(ctx, world, recipients)
}

function describe(rate: number, loadS: number, attempts: number): string {
  return (
    `k6 posts ${rate} email notifications/s for ${loadS} s; the email provider takes ${providerLatencyMs / 1000} s to accept each. ` +
    `Naive: 1 s client timeout, 3 blind retries, no key, ${attempts} job runs — every timed-out attempt is sent, until the provider's breaker opens; then the jobs wait (deferred, no attempt spent) and only its probes reach the provider, timed out and sent; no delivery is ever recorded sent. ` +
    'Hardened: a 10 s deadline, the delivery record and the provider key — one send per notification.'
  )
}

export default defineExperiment({
  id: 'pm11',
  slug: 'ambiguous-provider-timeout',
  system: notifications,
  title: 'Ambiguous provider timeouts with blind retries',
  description: describe(4, 30, 3),
  services: { api: {}, relay: {}, router: {}, worker: {} },
  env: world.env,
  mitigations: { deliveryRecord: true, providerIdempotencyKey: true, providerDeadline: true },
  infra: ['toxiproxy', 'postgres', 'redis-cache', 'redis-queue', 'kafka', 'k6'],
  reset,
  setup,
  load: {
    script: 'chaos/notifications/load/pm11-pm15-notify.js',
    durationS: 30,
    env: { RECIPIENT_PREFIX: world.recipientPrefix, RECIPIENTS: String(recipients), RATE: '4' },
  },
  timeline: [],
  settleS: 40,
  settleUntil: settled(world),
  invariants: [
    invariant(
      'one send per notification at the provider',
      '0 duplicate sends (per Idempotency-Key, or per recipient and body without one)',
      noDuplicateSends,
      // The chart: provider requests per second by result (naive: a timeout every second per job).
      { metric: 'notifications_provider_requests_total' },
    ),
    invariant(
      'every accepted notification sent',
      'every delivery sent, and each reached the provider',
      (ctx: RunContext) => everyAcceptedSent(ctx, world),
      { metric: 'notifications_deliveries_total' },
    ),
    errorRateBelow(0.01, {
      op: 'notify',
      window: 'all',
      expect: 'always',
      name: 'notifications accepted (k6)',
    }),
  ],
  ci: {
    description: describe(3, 10, 2),
    load: { durationS: 10, env: { RATE: '3' } },
    env: { JOB_ATTEMPTS: '2' },
    settleS: 30,
  },
})
