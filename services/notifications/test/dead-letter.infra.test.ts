/**
 * The dead-letter queue on real Postgres and the queue Redis: poison (it can never succeed) is
 * dead-lettered at once, transient failures after JOB_ATTEMPTS, a job that stalled out too; each
 * with its kind and reason in `ntf-dead`, counted, and the alert gauge up. deadLetter off (pm17's
 * naive): the job is left failed and nobody hears of it. The replay is idempotent: twice re-queues
 * once, and a replay that died half-way is resumed without a double.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Worker } from 'bullmq'
import { channelQueueName } from '../src/keys.ts'
import type { Knobs } from '../src/providers/knobs.ts'
import { type RunningProviders, startProviders } from '../src/providers/testing.ts'
import { RecipientRepository } from '../src/repositories/recipients.ts'
import { notificationPriority, replayDeadLetters } from '../src/sender/replay.ts'
import { type NotificationsHarness, notificationsHarness } from './harness.ts'
import {
  counterValue,
  enqueue,
  type StartedWorker,
  seedDelivery,
  startWorker,
  until,
} from './sender-helpers.ts'

const attempts = 3
const env = (providers: RunningProviders) => ({
  JOB_ATTEMPTS: String(attempts),
  JOB_BACKOFF_MS: '10',
  JOB_BACKOFF_MAX_MS: '50',
  BREAKER_FAILURES: '1000',
  WORKER_CHANNELS: 'email',
  PROVIDER_EMAIL_URL: providers.baseUrl('email'),
})

async function providersFor(h: NotificationsHarness, knobs: Partial<Knobs> = {}): Promise<RunningProviders> {
  const providers = await startProviders({ knobs: { email: knobs } })
  h.infra.defer(() => providers.close())
  return providers
}

async function deadLetters(w: StartedWorker) {
  return w.queues.dead.getJobs(['waiting', 'prioritized', 'delayed'])
}

const replay = (h: NotificationsHarness, w: StartedWorker) =>
  replayDeadLetters({
    queues: w.queues,
    deliveries: w.deliveries,
    priorityOf: notificationPriority(h.db),
    attempts,
  })

test('poison (no contact) is dead-lettered at once with its reason, counted, and the alert fires', async (t) => {
  const h = await notificationsHarness(t)
  const providers = await providersFor(h)
  const w = startWorker(h, env(providers))
  const s = await seedDelivery(h, { channel: 'email', recipient: { email: null } })
  await enqueue(w, s, 'email', { attempts })

  await until('dead-lettered', async () => (await h.deliveries.get(s.deliveryId))?.status === 'dead_lettered')
  const d = await h.deliveries.get(s.deliveryId)
  assert.equal(d?.deadLetterKind, 'poison')
  assert.equal(d?.reason, 'recipient has no email contact')
  assert.equal(d?.attempts, 1, 'not retried: it can never succeed')
  assert.equal(providers.stats('email').requests, 0)
  const letters = await deadLetters(w)
  assert.equal(letters.length, 1)
  assert.deepEqual(
    { ...letters[0]?.data, deadAt: undefined },
    {
      deliveryId: s.deliveryId,
      notificationId: s.notificationId,
      channel: 'email',
      kind: 'poison',
      reason: 'recipient has no email contact',
      deadAt: undefined,
    },
  )
  assert.equal(await w.queues.channel.email.getJobState(s.deliveryId), 'completed')
  assert.equal(await counterValue(w.registry, 'notifications_dead_letters', {}), 1)
  assert.equal(await counterValue(w.registry, 'notifications_dead_letter_alert', {}), 1)
  assert.equal(
    await counterValue(w.registry, 'notifications_deliveries_total', {
      channel: 'email',
      outcome: 'dead_lettered',
    }),
    1,
  )
})

test('a render error is poison too', async (t) => {
  const h = await notificationsHarness(t)
  const providers = await providersFor(h)
  const w = startWorker(h, env(providers))
  const s = await seedDelivery(h, { channel: 'email', data: {} })
  await enqueue(w, s, 'email', { attempts })

  await until('dead-lettered', async () => (await h.deliveries.get(s.deliveryId))?.status === 'dead_lettered')
  const d = await h.deliveries.get(s.deliveryId)
  assert.equal(d?.deadLetterKind, 'poison')
  assert.match(d?.reason ?? '', /^render failed: .*name/)
  assert.equal(providers.stats('email').requests, 0)
})

test(`a provider failing every attempt: exhausted after JOB_ATTEMPTS (${attempts})`, async (t) => {
  const h = await notificationsHarness(t)
  const providers = await providersFor(h, { errorRate: 1 })
  const w = startWorker(h, env(providers))
  const s = await seedDelivery(h, { channel: 'email' })
  await enqueue(w, s, 'email', { attempts })

  await until('dead-lettered', async () => (await h.deliveries.get(s.deliveryId))?.status === 'dead_lettered')
  const d = await h.deliveries.get(s.deliveryId)
  assert.equal(d?.deadLetterKind, 'exhausted')
  assert.equal(d?.reason, `failed ${attempts} times, last: email: error (HTTP 500)`)
  assert.equal(d?.attempts, attempts)
  assert.equal(providers.stats('email').requests, attempts)
  const letters = await deadLetters(w)
  assert.deepEqual(
    letters.map((l) => l.data.kind),
    ['exhausted'],
  )
  assert.equal(
    await counterValue(w.registry, 'notifications_deliveries_total', { channel: 'email', outcome: 'failed' }),
    attempts - 1,
  )
})

for (const kind of ['poison', 'exhausted'] as const) {
  test(`deadLetter off: ${kind} is left failed, nothing in the dead-letter queue`, async (t) => {
    const h = await notificationsHarness(t)
    const providers = await providersFor(h, kind === 'exhausted' ? { errorRate: 1 } : {})
    const w = startWorker(h, env(providers), { deadLetter: false })
    const s = await seedDelivery(h, { channel: 'email', recipient: kind === 'poison' ? { email: null } : {} })
    await enqueue(w, s, 'email', { attempts })

    await until(
      'the job failed for good',
      async () => (await w.queues.channel.email.getJobState(s.deliveryId)) === 'failed',
    )
    const job = await w.queues.channel.email.getJob(s.deliveryId)
    assert.equal(job?.attemptsMade, kind === 'poison' ? 1 : attempts)
    const d = await h.deliveries.get(s.deliveryId)
    assert.equal(d?.status, 'failed', 'never terminal: the balance cannot close')
    assert.equal(await w.queues.dead.count(), 0)
    assert.equal(await counterValue(w.registry, 'notifications_dead_letter_alert', {}), 0)
    assert.equal(
      await counterValue(w.registry, 'notifications_deliveries_total', {
        channel: 'email',
        outcome: 'dead_lettered',
      }),
      0,
    )
  })
}

test('replaying twice re-queues once, and the delivery is then sent once', async (t) => {
  const h = await notificationsHarness(t)
  const providers = await providersFor(h)
  const w = startWorker(h, env(providers))
  const s = await seedDelivery(h, { channel: 'email', recipient: { email: null } })
  await enqueue(w, s, 'email', { attempts })
  await until('dead-lettered', async () => (await h.deliveries.get(s.deliveryId))?.status === 'dead_lettered')

  // The cause is fixed (the recipient gets an address), then the dead letters are replayed twice.
  const recipients = new RecipientRepository(h.db)
  const r = await recipients.get(s.recipientId)
  assert.ok(r)
  await recipients.put({ ...r, email: 'fixed@example.com' })
  const [first, second] = [await replay(h, w), await replay(h, w)]
  assert.deepEqual(first, { requeued: 1, resumed: 0, stale: 0, kept: 0 })
  assert.deepEqual(second, { requeued: 0, resumed: 0, stale: 0, kept: 0 })
  assert.equal(await w.queues.dead.count(), 0)

  await until('sent', async () => (await h.deliveries.get(s.deliveryId))?.status === 'sent')
  assert.equal(providers.stats('email').requests, 1)
  assert.equal(providers.log('email')[0]?.to, 'fixed@example.com')
  assert.equal(await counterValue(w.registry, 'notifications_dead_letter_alert', {}), 0)
})

test('a replay that died after the requeue is resumed: the job is added once, not twice', async (t) => {
  const h = await notificationsHarness(t)
  const providers = await providersFor(h)
  const w = startWorker(h, env(providers))
  await w.workers.close() // no consumer: the test looks at the queue itself
  const s = await seedDelivery(h, { channel: 'email', recipient: { email: null } })
  const d = await h.deliveries.claim(s.deliveryId, true)
  assert.ok(d)
  await w.deadLetters.deadLetter({ ...s, channel: 'email', attempts: d.attempts }, 'poison', 'no contact')

  // The crashed run got as far as the requeue.
  assert.equal(await h.deliveries.requeueDeadLetter(s.deliveryId), true)
  assert.deepEqual(await replay(h, w), { requeued: 0, resumed: 1, stale: 0, kept: 0 })
  assert.deepEqual(await replay(h, w), { requeued: 0, resumed: 0, stale: 0, kept: 0 })
  const jobs = await w.queues.channel.email.getJobs(['waiting', 'prioritized', 'delayed'])
  assert.deepEqual(
    jobs.map((j) => j.id),
    [`${s.deliveryId}-r1`],
  )
})

test('a job that stalled more often than allowed is dead-lettered exhausted', async (t) => {
  const h = await notificationsHarness(t)
  const providers = await providersFor(h)
  const s = await seedDelivery(h, { channel: 'email' })
  // A worker that takes the job and dies: it never renews the lock nor finishes the job.
  const dying = new Worker(channelQueueName('email'), null, {
    connection: h.queueRedis(),
    prefix: h.prefix,
    lockDuration: 300,
    autorun: false,
  })
  h.infra.defer(() => dying.close(true))
  const w = startWorker(h, env(providers), {}, { stalledIntervalMs: 200, maxStalledCount: 0 })
  await w.workers.close() // enqueue first, then let only the dying worker take it
  await enqueue(w, s, 'email', { attempts })
  const taken = await dying.getNextJob('dying-token')
  assert.equal(taken?.id, s.deliveryId)

  const w2 = startWorker(h, env(providers), {}, { stalledIntervalMs: 200, maxStalledCount: 0 })
  await until('dead-lettered', async () => (await h.deliveries.get(s.deliveryId))?.status === 'dead_lettered')
  const d = await h.deliveries.get(s.deliveryId)
  assert.equal(d?.deadLetterKind, 'exhausted')
  assert.match(d?.reason ?? '', /^stalled more than allowed/)
  assert.equal(providers.stats('email').requests, 0)
  assert.equal((await deadLetters(w2)).length, 1)
})
