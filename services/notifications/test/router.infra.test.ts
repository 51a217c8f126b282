// The router on real Kafka, Postgres and Redis (its own schema, key and queue prefix, topic and
// consumer group). Notifications are written as the API writes them; their events are produced to
// the topic as the relay publishes them (one test goes through the relay itself), and the router
// turns them into delivery rows and BullMQ jobs.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { createKafka, createRedis, disconnectProducer, getProducer, type Kafka } from '@faultline/kit/clients'
import { createMetrics, type Metrics } from '@faultline/kit/metrics'
import { OutboxRelay } from '@faultline/kit/outbox-relay'
import { connectRelaySession, outboxRelayLockName } from '@faultline/kit/outbox-relay-process'
import { LimiterKeys } from '@faultline/ratelimit'
import type { Job } from 'bullmq'
import type { Redis } from 'ioredis'
import { NotificationKeys } from '../src/keys.ts'
import { RecipientRepository } from '../src/repositories/recipients.ts'
import { createRouter, type Router } from '../src/router/components.ts'
import { RecipientRateLimit } from '../src/router/rate-limit.ts'
import type { Channel, NotificationEvent, Priority } from '../src/types.ts'
import { type NotificationsHarness, notificationsHarness, silentLog } from './harness.ts'
import { quiet, recipient } from './router-helpers.ts'

const allChannels: Channel[] = ['email', 'sms', 'push', 'webhook']

interface Setup {
  h: NotificationsHarness
  kafka: Kafka
  router: Router
  metrics: Metrics
  recipients: RecipientRepository
  /** The cache Redis (rate limits). */
  redis: Redis
}

/** A harness with Kafka, a router consuming the test topic, and a producer for events. */
async function setup(
  t: Parameters<typeof notificationsHarness>[0],
  env: Record<string, string> = {},
): Promise<Setup> {
  const h = await notificationsHarness(t, { kafka: { partitions: 2 }, env: { JOB_ATTEMPTS: '5', ...env } })
  const config = h.config()
  const redis = h.redis()
  const kafka = createKafka({
    brokers: config.kafkaBrokers,
    clientId: `router-test-${randomUUID()}`,
    log: silentLog,
  })
  const metrics = createMetrics({ defaultMetrics: false })
  const router = createRouter(config, {
    pool: h.pool(4),
    redis,
    queueRedis: h.queueRedis(),
    kafka,
    metrics,
    log: quiet,
  })
  h.infra.defer(() => disconnectProducer(kafka))
  h.infra.defer(() => router.stop())
  await router.start()
  return { h, kafka, router, metrics, recipients: new RecipientRepository(h.db), redis }
}

interface NotificationInput {
  recipientId: string
  template?: string
  channels?: Channel[] | null
  category?: string
  priority?: Priority
  /** Seconds from now (negative: already expired). @default 3600 */
  ttlS?: number
}

/** Inserts the notification as the API does (without the outbox row) and returns its event. */
async function accept(s: Setup, n: NotificationInput): Promise<NotificationEvent> {
  const { rows } = await s.h.db.query<{ id: string; created_at: Date; expires_at: Date }>(
    `INSERT INTO notifications (recipient_id, template, data, channels, category, priority, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
     RETURNING id, created_at, expires_at`,
    [
      n.recipientId,
      n.template ?? 'welcome',
      JSON.stringify({ name: 'Ada' }),
      n.channels ?? null,
      n.category ?? 'marketing',
      n.priority ?? 'normal',
      n.ttlS ?? 3600,
    ],
  )
  const row = rows[0] as { id: string; created_at: Date; expires_at: Date }
  return {
    type: 'notification_accepted',
    notification: {
      id: row.id,
      recipientId: n.recipientId,
      template: n.template ?? 'welcome',
      data: { name: 'Ada' },
      channels: n.channels ?? null,
      category: n.category ?? 'marketing',
      priority: n.priority ?? 'normal',
      createdAt: row.created_at.toISOString(),
      expiresAt: row.expires_at.toISOString(),
    },
  }
}

async function produce(s: Setup, events: Array<NotificationEvent | string>): Promise<void> {
  const producer = await getProducer(s.kafka)
  await producer.send({
    topic: s.h.topic as string,
    acks: -1,
    messages: events.map((e) =>
      typeof e === 'string'
        ? { key: 'garbage', value: e }
        : { key: e.notification.recipientId, value: JSON.stringify(e) },
    ),
  })
}

/** Waits (bounded) until the notification has `count` delivery rows. */
async function deliveriesOf(s: Setup, notificationId: string, count: number) {
  for (let i = 0; i < 300; i++) {
    const ds = await s.h.deliveries.listForNotification(notificationId)
    if (ds.length >= count) return ds
    await sleep(50)
  }
  assert.fail(`notification ${notificationId} never got ${count} deliveries`)
}

/** Waits (bounded) until the router has committed past everything produced so far on the topic. */
async function drained(s: Setup): Promise<void> {
  const admin = s.kafka.admin()
  await admin.connect()
  try {
    for (let i = 0; i < 300; i++) {
      const ends = await admin.fetchTopicOffsets(s.h.topic as string)
      const [group] = await admin.fetchOffsets({
        groupId: s.h.groupId as string,
        topics: [s.h.topic as string],
      })
      const committed = new Map(group?.partitions.map((p) => [p.partition, p.offset]) ?? [])
      if (ends.every((e) => e.offset === '0' || committed.get(e.partition) === e.offset)) return
      await sleep(50)
    }
    assert.fail('the router never committed the whole topic')
  } finally {
    await admin.disconnect()
  }
}

const byChannel = <T extends { channel: Channel }>(list: T[]) =>
  Object.fromEntries(list.map((d) => [d.channel, d])) as Record<Channel, T>

async function job(s: Setup, channel: Channel, id: string): Promise<Job | undefined> {
  return s.router.queues.channel[channel].getJob(id)
}

async function routedCount(s: Setup, labels: Record<string, string>): Promise<number> {
  const metric = await s.metrics.registry.getSingleMetric('notifications_routed_total')?.get()
  return (metric?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0)
}

test('the router on Kafka, Postgres and Redis', { timeout: 180_000 }, async (t) => {
  const s = await setup(t, { RATE_LIMIT_PER_RECIPIENT: '2', RATE_LIMIT_WINDOW_S: '3600' })

  await t.test(
    'an event becomes one queued delivery and one job per channel, with id, priority and options',
    async () => {
      await s.recipients.put(recipient('r-all'))
      const normal = await accept(s, { recipientId: 'r-all' })
      const critical = await accept(s, { recipientId: 'r-all', channels: ['sms'], priority: 'critical' })
      const low = await accept(s, {
        recipientId: 'r-all',
        channels: ['email'],
        priority: 'low',
        category: 'digest',
      })
      await produce(s, [normal, critical, low])

      const ds = byChannel(await deliveriesOf(s, normal.notification.id, 4))
      for (const c of allChannels) {
        const id = `${normal.notification.id}-${c}`
        assert.equal(ds[c].id, id)
        assert.equal(ds[c].status, 'queued')
        assert.equal(ds[c].reason, null)
        const j = await job(s, c, id)
        assert.ok(j, `a job ${id} on ntf-${c}`)
        assert.equal(j.name, c)
        assert.deepEqual(j.data, { deliveryId: id, notificationId: normal.notification.id, channel: c })
        assert.equal(j.opts.priority, 2)
        assert.equal(j.opts.attempts, 5)
        assert.deepEqual(j.opts.backoff, { type: 'jitter' })
        assert.deepEqual(j.opts.removeOnFail, { age: 7 * 86_400, count: 10_000 })
        assert.deepEqual(j.opts.removeOnComplete, { age: 3_600, count: 10_000 })
        assert.ok(!j.opts.delay, 'no delay')
        assert.equal(await j.getState(), 'prioritized')
      }
      const [c] = await deliveriesOf(s, critical.notification.id, 1)
      assert.equal(c?.channel, 'sms')
      assert.equal((await job(s, 'sms', `${critical.notification.id}-sms`))?.opts.priority, 1)
      await deliveriesOf(s, low.notification.id, 1)
      assert.equal((await job(s, 'email', `${low.notification.id}-email`))?.opts.priority, 3)
      assert.equal(await routedCount(s, { channel: 'email', outcome: 'queued', reason: 'none' }), 2)
    },
  )

  await t.test(
    'a redelivered event creates no second row or job, spends no quota, and re-enqueues a lost job',
    async () => {
      await s.recipients.put(recipient('r-again'))
      const e = await accept(s, { recipientId: 'r-again', channels: ['email', 'push'] })
      await produce(s, [e])
      await deliveriesOf(s, e.notification.id, 2)
      await drained(s)
      const before = await s.router.queues.channel.email.getJobCounts()
      const routedBefore = await routedCount(s, {})

      // The same event three more times (a relay republishing after a crash; a rebalance replay).
      // The limit is 2 per recipient and category: a re-decision would suppress them rate_limited.
      await produce(s, [e, e, e])
      await drained(s)
      const ds = await s.h.deliveries.listForNotification(e.notification.id)
      assert.deepEqual(
        ds.map((d) => [d.channel, d.status]),
        [
          ['email', 'queued'],
          ['push', 'queued'],
        ],
      )
      assert.deepEqual(await s.router.queues.channel.email.getJobCounts(), before)
      assert.equal(await routedCount(s, {}), routedBefore, 'nothing routed twice')
      const [logKey] = new LimiterKeys(s.h.keys.rateLimitPrefix).scriptKeys(
        'sliding-log',
        s.h.keys.rateLimitKey('r-again', 'marketing'),
      )
      assert.equal(await s.redis.zcard(logKey as string), 1, 'one rate-limit unit for one notification')

      // The job is gone while the row is still queued (a queue Redis that lost it): the replay puts it back.
      await (await job(s, 'push', `${e.notification.id}-push`))?.remove()
      assert.equal(await job(s, 'push', `${e.notification.id}-push`), undefined)
      await produce(s, [e])
      await drained(s)
      assert.ok(await job(s, 'push', `${e.notification.id}-push`), 'the job is back')
    },
  )

  await t.test('opted out and no contact: suppressed with the reason, no job', async () => {
    await s.recipients.put(
      recipient('r-prefs', {
        phone: null,
        webhookUrl: null,
        optOuts: { marketing: ['push'], billing: ['*'] },
      }),
    )
    const e = await accept(s, { recipientId: 'r-prefs' })
    // Critical does not bypass an opt-out.
    const billing = await accept(s, {
      recipientId: 'r-prefs',
      category: 'billing',
      priority: 'critical',
      channels: ['email'],
    })
    await produce(s, [e, billing])
    const ds = byChannel(await deliveriesOf(s, e.notification.id, 4))
    assert.deepEqual(
      allChannels.map((c) => [c, ds[c].status, ds[c].reason]),
      [
        ['email', 'queued', null],
        ['sms', 'suppressed', 'no_contact'],
        ['push', 'suppressed', 'opted_out'],
        ['webhook', 'suppressed', 'no_contact'],
      ],
    )
    assert.ok(await job(s, 'email', ds.email.id))
    for (const c of ['sms', 'push', 'webhook'] as const) assert.equal(await job(s, c, ds[c].id), undefined)
    const [b] = await deliveriesOf(s, billing.notification.id, 1)
    assert.deepEqual([b?.status, b?.reason], ['suppressed', 'opted_out'])
    assert.equal(await job(s, 'email', b?.id as string), undefined)
    assert.equal(await routedCount(s, { channel: 'push', outcome: 'suppressed', reason: 'opted_out' }), 1)
  })

  await t.test(
    'the per-recipient, per-category limit suppresses the third; critical and other categories pass',
    async () => {
      await s.recipients.put(recipient('r-noisy'))
      const events: NotificationEvent[] = []
      for (let i = 0; i < 3; i++)
        events.push(await accept(s, { recipientId: 'r-noisy', channels: ['email', 'sms'] }))
      const critical = await accept(s, { recipientId: 'r-noisy', channels: ['email'], priority: 'critical' })
      const other = await accept(s, { recipientId: 'r-noisy', channels: ['email'], category: 'orders' })
      await produce(s, [...events, critical, other])
      const statuses = []
      for (const e of events) {
        const ds = await deliveriesOf(s, e.notification.id, 2)
        // One decision per notification: both channels share it.
        assert.equal(new Set(ds.map((d) => d.status)).size, 1)
        statuses.push(ds[0]?.reason ?? ds[0]?.status)
      }
      // The earliest two get the quota (one partition per recipient, decided in order).
      assert.deepEqual(statuses, ['queued', 'queued', 'rate_limited'])
      const limited = events[2]?.notification.id as string
      assert.equal(await job(s, 'email', `${limited}-email`), undefined)
      assert.equal((await deliveriesOf(s, critical.notification.id, 1))[0]?.status, 'queued')
      assert.equal((await deliveriesOf(s, other.notification.id, 1))[0]?.status, 'queued')
    },
  )

  await t.test(
    'inside quiet hours: held until the window ends, the job delayed until then; critical is not',
    async () => {
      const nowMs = Date.now()
      const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16)
      const endMs = Math.floor((nowMs + 3_600_000) / 60_000) * 60_000
      await s.recipients.put(
        recipient('r-night', { quietHours: { start: hhmm(nowMs - 3_600_000), end: hhmm(endMs) } }),
      )
      const e = await accept(s, { recipientId: 'r-night', channels: ['push'] })
      const critical = await accept(s, { recipientId: 'r-night', channels: ['push'], priority: 'critical' })
      const producedMs = Date.now()
      await produce(s, [e, critical])
      const [d] = await deliveriesOf(s, e.notification.id, 1)
      assert.equal(d?.status, 'held')
      assert.equal(d?.reason, 'quiet_hours')
      assert.equal(d?.heldUntil, new Date(endMs).toISOString())
      const j = await job(s, 'push', d?.id as string)
      assert.ok(j)
      assert.equal(await j.getState(), 'delayed')
      // delay = heldUntil − the router's now, taken after the event was produced.
      assert.ok((j.opts.delay ?? 0) > 0 && (j.opts.delay ?? 0) <= endMs - producedMs, `delay ${j.opts.delay}`)
      assert.equal(j.timestamp + (j.opts.delay ?? 0) >= endMs - 1, true)
      const [c] = await deliveriesOf(s, critical.notification.id, 1)
      assert.deepEqual([c?.status, c?.heldUntil], ['queued', null])
      assert.ok(!(await job(s, 'push', c?.id as string))?.opts.delay)
    },
  )

  await t.test('past its TTL: expired, no job; with ttlCheck off it is queued', async () => {
    await s.recipients.put(recipient('r-late'))
    const stale = await accept(s, { recipientId: 'r-late', channels: ['email', 'sms'], ttlS: -5 })
    await produce(s, [stale])
    const ds = await deliveriesOf(s, stale.notification.id, 2)
    assert.deepEqual(
      ds.map((d) => [d.channel, d.status, d.reason]),
      [
        ['email', 'expired', 'ttl_expired'],
        ['sms', 'expired', 'ttl_expired'],
      ],
    )
    for (const d of ds) assert.equal(await job(s, d.channel, d.id), undefined)

    s.router.switches.update({ ttlCheck: false })
    try {
      const naive = await accept(s, {
        recipientId: 'r-late',
        channels: ['push'],
        ttlS: -5,
        priority: 'critical',
      })
      await produce(s, [naive])
      const [d] = await deliveriesOf(s, naive.notification.id, 1)
      assert.equal(d?.status, 'queued')
      assert.ok(await job(s, 'push', d?.id as string))
    } finally {
      s.router.switches.update({ ttlCheck: true })
    }
  })

  await t.test(
    'a message that is no event, or the event of an unknown notification, is skipped and committed',
    async () => {
      await s.recipients.put(recipient('r-after'))
      const ghost = await accept(s, { recipientId: 'r-after' })
      ghost.notification.id = randomUUID()
      const e = await accept(s, { recipientId: 'r-after', channels: ['email'] })
      await produce(s, ['not json', JSON.stringify({ type: 'other' }), ghost, e])
      assert.equal((await deliveriesOf(s, e.notification.id, 1))[0]?.status, 'queued')
      await drained(s)
      assert.deepEqual(await s.h.deliveries.listForNotification(ghost.notification.id), [])
    },
  )

  await t.test('through the relay: an outbox row written with the notification is routed', async () => {
    await s.recipients.put(recipient('r-outbox'))
    const e = await accept(s, { recipientId: 'r-outbox', channels: ['sms'] })
    await s.h.db.query('INSERT INTO outbox (key, payload) VALUES ($1, $2)', [
      e.notification.recipientId,
      JSON.stringify(e),
    ])
    const config = s.h.config()
    const relay = new OutboxRelay({
      connect: () => connectRelaySession(config, 'notifications-relay-test'),
      publish: async (messages) => {
        const producer = await getProducer(s.kafka)
        await producer.send({ topic: config.topic, acks: -1, messages })
      },
      lockName: outboxRelayLockName('notifications', config.dbSchema),
      batchMax: config.relayBatchMax,
      pollMs: config.relayPollMs,
      log: quiet,
    })
    const stop = new AbortController()
    const running = relay.run(stop.signal)
    try {
      const [d] = await deliveriesOf(s, e.notification.id, 1)
      assert.equal(d?.status, 'queued')
      assert.ok(await job(s, 'sms', d?.id as string))
    } finally {
      stop.abort()
      await running
    }
    const { rows } = await s.h.db.query('SELECT 1 FROM outbox')
    assert.equal(rows.length, 0, 'the relay deleted the published row')
  })
})

test('the rate limiter down: the notification is allowed and the failure counted', async () => {
  // A real client on a port where nothing listens (no shared proxy is touched).
  const redis = createRedis('redis://127.0.0.1:1', {
    name: 'router-test-dead',
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  })
  redis.on('error', () => {})
  let errors = 0
  const limit = new RecipientRateLimit({
    redis,
    keys: new NotificationKeys('t:dead'),
    limit: 1,
    windowMs: 60_000,
    onRedisError: () => {
      errors += 1
    },
    log: quiet,
  })
  try {
    assert.equal(await limit.allow('r', 'marketing'), true)
    assert.equal(await limit.allow('r', 'marketing'), true, 'over the limit, but nobody can tell')
    assert.equal(errors, 2)
  } finally {
    redis.disconnect()
  }
})

test('a limit the sliding log cannot hold fails at start, not per notification', () => {
  assert.throws(
    () =>
      new RecipientRateLimit({
        redis: {} as Redis,
        keys: new NotificationKeys('t:bad'),
        limit: 20_000,
        windowMs: 60_000,
        onRedisError() {},
        log: quiet,
      }),
    /limit/,
  )
})
