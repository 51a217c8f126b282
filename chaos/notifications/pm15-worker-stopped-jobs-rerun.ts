/**
 * pm15 — a consumer SIGSTOPped for 15 s, again and again (GitHub availability report, August 2023:
 * a consumer group stuck rebalancing under CPU starvation). A stopped process keeps its sockets
 * and its work but renews nothing: its BullMQ job locks and its Kafka session expire, and the
 * queue and the group hand its work to someone else while it may still finish it.
 *
 * The whole pipeline runs with two channel workers (and two routers in the full variant); k6
 * posts email notifications at a steady rate, each with an Idempotency-Key and a body of its own.
 * The email provider is the project's fake in the lab's process (lib/shared-providers.ts), 1–1.5 s
 * per send, so each worker always has a dozen sends in flight. worker-1 is SIGSTOPped for 15 s
 * every 30 s (the CI variant: 4 s, twice). Its jobs' locks (JOB_LOCK_MS 5 s; 2 s in CI — a short
 * lock is what makes a crashed worker's jobs come back quickly) expire, worker-0's stalled-job
 * check (JOB_STALLED_CHECK_MS) moves them back to the queue and runs them again (bullmq#439), and
 * when worker-1 resumes it finishes the runs it had begun. In the full variant router-1 is also
 * SIGSTOPped for 15 s, longer than its 10 s Kafka session: the group gives its partitions to
 * router-0, which routes the uncommitted events again (deliveries inserted ON CONFLICT DO NOTHING,
 * jobs deduplicated by their deterministic id — in both modes).
 *
 * The mechanism of the duplicates: a job whose send reached the provider is run a second time.
 * Naive (deliveryRecord and providerIdempotencyKey off): the second run claims the delivery
 * whatever its state and sends without a key — the recipient gets the message twice (the provider
 * counts repeats of one recipient and body); worker-1's own run, resumed, may send once more.
 * Hardened: the second run claims only a pending delivery (a sent one is skipped), and one still
 * `sending` — its first run frozen mid-send — is sent with the delivery id as Idempotency-Key, so
 * the provider answers from the key instead of sending again: exactly one send per delivery.
 *
 * Invariants: duplicate sends at the provider = 0 (fails naive); no message lost — every accepted
 * notification sent (both); the stops made jobs run again (both: deliveries claimed more than
 * once, else the fault did not bite); posts accepted (both).
 */
import {
  defineExperiment,
  errorRateBelow,
  type HookContext,
  invariant,
  pause,
  type RunContext,
  service,
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
const world = isolatedWorld('pm15', {
  JOB_LOCK_MS: '5000',
  JOB_STALLED_CHECK_MS: '5000',
  WORKER_CONCURRENCY: '50',
  WORKER_CHANNELS: 'email',
})

async function reset(ctx: HookContext): Promise<void> {
  await resetWithProviders(ctx, world, { [provider]: { latencyMs: 1000, latencyJitterMs: 500 } })
}

async function setup(ctx: HookContext): Promise<void> {
  await putEmailRecipients(ctx, world, recipients)
}

async function jobsRanAgain(ctx: RunContext) {
  const { claimedAgain, sentAgain } = await world.fixture.rerun(ctx.pg)
  return {
    holds: claimedAgain > 0,
    observed: `${claimedAgain} deliveries claimed by more than one job run (${sentAgain} of them marked sent by two runs)`,
  }
}

const pauseWorker = (at: number, until: number, every: number, hold: number) => ({
  at,
  until,
  every,
  hold,
  action: pause(service('worker', 1)),
  label: `SIGSTOP worker-1 for ${hold} s every ${every} s`,
})

export default defineExperiment({
  id: 'pm15',
  slug: 'worker-stopped-jobs-rerun',
  system: notifications,
  title: 'Channel worker and router SIGSTOPped for 15 s, repeatedly',
  description:
    'k6 posts 16 email notifications/s for 60 s to two channel workers (provider 1–1.5 s per send). worker-1 is SIGSTOPped for 15 s at 5 s and 35 s, router-1 for 15 s at 20 s; ' +
    "the stopped worker's jobs stall (5 s lock) and run again on worker-0. Naive (no delivery record, no provider key): each re-run send reaches the recipient twice; hardened: one send per delivery, nothing lost.",
  services: { api: {}, relay: {}, router: { instances: 2 }, worker: { instances: 2 } },
  env: world.env,
  mitigations: { deliveryRecord: true, providerIdempotencyKey: true },
  infra: ['toxiproxy', 'postgres', 'redis-cache', 'redis-queue', 'kafka', 'k6'],
  reset,
  setup,
  load: {
    script: 'chaos/notifications/load/pm11-pm15-notify.js',
    durationS: 60,
    env: { RECIPIENT_PREFIX: world.recipientPrefix, RECIPIENTS: String(recipients), RATE: '16' },
  },
  timeline: [
    pauseWorker(5, 55, 30, 15),
    { at: 20, until: 35, action: pause(service('router', 1)), label: 'SIGSTOP router-1 for 15 s' },
  ],
  // Up to 90 s: a router resumed after its session expired rejoins the group, which may wait for
  // kafkajs' rebalance timeout before it moves on without a member that does not answer.
  settleS: 90,
  settleUntil: settled(world),
  invariants: [
    invariant(
      'exactly-once effect: one send per delivery at the provider',
      '0 duplicate sends (per Idempotency-Key, or per recipient and body without one)',
      noDuplicateSends,
      { metric: 'notifications_deliveries_total' },
    ),
    invariant(
      'no message lost',
      'every accepted notification sent, and each reached the provider',
      (ctx: RunContext) => everyAcceptedSent(ctx, world),
      { expect: 'always' },
    ),
    invariant('the stops made jobs run again', '≥ 1 delivery claimed by two job runs', jobsRanAgain, {
      expect: 'always',
    }),
    errorRateBelow(0.01, {
      op: 'notify',
      window: 'all',
      expect: 'always',
      name: 'notifications accepted (k6)',
    }),
  ],
  ci: {
    description:
      'k6 posts 16 email notifications/s for 14 s to two channel workers (provider 1–1.5 s per send); worker-1 is SIGSTOPped for 4 s at 2 s and 8 s, longer than its 2 s job lock, ' +
      'so its jobs stall and run again on worker-0 (one router: the full variant also stops a router). Naive: re-run sends reach the recipient twice; hardened: one send per delivery, nothing lost.',
    load: { durationS: 14 },
    env: { JOB_LOCK_MS: '2000', JOB_STALLED_CHECK_MS: '1000' },
    services: { router: { instances: 1 } },
    timeline: [pauseWorker(2, 13, 6, 4)],
    settleS: 30,
  },
})
