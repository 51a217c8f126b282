// The router and relay as the processes the lab starts (src/router.ts, src/relay.ts) on real
// Kafka, Postgres and Redis: the whole path from an outbox row to a job, the probes, metrics,
// switches and a clean SIGTERM; and a router SIGKILLed part-way through a backlog.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { test } from 'node:test'
import { createKafka, disconnectProducer, getProducer } from '@faultline/kit/clients'
import { channelQueues } from '../src/queue/queues.ts'
import { RecipientRepository } from '../src/repositories/recipients.ts'
import type { NotificationEvent } from '../src/types.ts'
import { type NotificationsHarness, notificationsHarness, silentLog } from './harness.ts'
import { eventually, get, recipient, spawnProcess } from './router-helpers.ts'

test(
  'the relay and router processes: outbox row → Kafka → delivery and job; probes, metrics; SIGTERM exits 0',
  {
    timeout: 120_000,
  },
  async (t) => {
    const h = await notificationsHarness(t, { kafka: { partitions: 2 }, env: { LOG_LEVEL: 'warn' } })
    const queues = channelQueues(h.queueRedis(), h.prefix)
    h.infra.defer(() => queues.close())
    await new RecipientRepository(h.db).put(recipient('r-proc'))
    const relay = await spawnProcess(h, '../src/relay.ts')
    const router = await spawnProcess(h, '../src/router.ts', { MITIGATION_TTL_CHECK: 'false' })
    const both = () => `relay:\n${relay.why()}\nrouter:\n${router.why()}`
    await eventually(
      'the router is ready (its consumer joined the group)',
      async () => {
        return (await get(`${router.base}/readyz`)).status === 200
      },
      both,
    )
    await eventually(
      'the relay is ready',
      async () => (await get(`${relay.base}/readyz`)).status === 200,
      both,
    )

    const { rows } = await h.db.query<{ id: string; created_at: Date; expires_at: Date }>(
      `WITH n AS (
       INSERT INTO notifications (recipient_id, template, data, category, priority, expires_at)
       VALUES ('r-proc', 'otp', '{"code": "123456"}', 'security', 'critical', now() + interval '1 hour')
       RETURNING id, created_at, expires_at
     ), o AS (
       INSERT INTO outbox (key, payload)
       SELECT 'r-proc', jsonb_build_object('type', 'notification_accepted', 'notification', jsonb_build_object(
         'id', n.id, 'recipientId', 'r-proc', 'template', 'otp', 'data', '{"code": "123456"}'::jsonb,
         'channels', NULL, 'category', 'security', 'priority', 'critical',
         'createdAt', n.created_at, 'expiresAt', n.expires_at))
       FROM n
     )
     SELECT * FROM n`,
    )
    const id = (rows[0] as { id: string }).id
    await eventually('routed', async () => (await h.deliveries.listForNotification(id)).length === 2, both)
    const ds = await h.deliveries.listForNotification(id)
    // The otp template has email and sms.
    assert.deepEqual(
      ds.map((d) => [d.channel, d.status]),
      [
        ['email', 'queued'],
        ['sms', 'queued'],
      ],
    )
    // The rows commit before the jobs are enqueued: wait for the job too.
    await eventually(
      'enqueued',
      async () => (await queues.channel.sms.getJob(`${id}-sms`)) !== undefined,
      both,
    )
    const smsJob = await queues.channel.sms.getJob(`${id}-sms`)
    assert.equal(smsJob?.opts.priority, 1)

    const routerMetrics = (await get(`${router.base}/metrics`)).text
    assert.match(
      routerMetrics,
      /notifications_routed_total\{[^}]*channel="sms"[^}]*outcome="queued"[^}]*\} 1/,
    )
    // The relay counts a row once it deleted it, which may come after the router saw the event.
    await eventually(
      'the relay counted the row',
      async () =>
        /notifications_outbox_published_total\{[^}]*\} 1/.test((await get(`${relay.base}/metrics`)).text),
      both,
    )
    const relayMetrics = (await get(`${relay.base}/metrics`)).text
    assert.match(relayMetrics, /notifications_relay_leader\{[^}]*\} 1/)
    const switches = JSON.parse((await get(`${router.base}/admin/mitigations`)).text)
    assert.equal(switches.ttlCheck, false)

    for (const p of [router, relay]) {
      p.child.kill('SIGTERM')
      const [code, signal] = (await p.exited) as [number | null, string | null]
      assert.equal(signal, null, p.why())
      assert.equal(code, 0, p.why())
    }
  },
)

test(
  'a router SIGKILLed mid-backlog: the next member of the group routes the rest, nothing lost, nothing twice',
  {
    timeout: 150_000,
  },
  async (t) => {
    const total = 1500
    const h = await notificationsHarness(t, {
      kafka: { partitions: 2 },
      env: { LOG_LEVEL: 'warn', KAFKA_SESSION_TIMEOUT_MS: '6000', RATE_LIMIT_PER_RECIPIENT: '10000' },
    })
    const queues = channelQueues(h.queueRedis(), h.prefix)
    h.infra.defer(() => queues.close())
    const routed = await backlog(h, 'r-kill-', total)

    const first = await spawnProcess(h, '../src/router.ts')
    await eventually('the first router routed something', async () => (await routed()) > 0, first.why)
    first.child.kill('SIGKILL')
    await first.exited
    const atKill = await routed()
    t.diagnostic(`routed when the first router was killed: ${atKill} of ${total}`)

    const second = await spawnProcess(h, '../src/router.ts')
    await eventually('the second router routed the rest', async () => (await routed()) === total, second.why)
    const counts = await h.deliveries.countByStatus()
    assert.equal(counts.queued, total * 2, 'one delivery per (notification, channel)')
    const jobs = async (c: 'email' | 'sms') => {
      const n = await queues.channel[c].getJobCounts('waiting', 'prioritized', 'delayed')
      return Object.values(n).reduce((a, b) => a + b, 0)
    }
    // A chunk's rows commit before its jobs are enqueued: wait for the jobs, then count exactly.
    await eventually(
      'every job enqueued',
      async () => (await jobs('email')) >= total && (await jobs('sms')) >= total,
      second.why,
    )
    assert.equal(await jobs('email'), total, 'one email job per notification')
    assert.equal(await jobs('sms'), total, 'one sms job per notification')
    second.child.kill('SIGTERM')
    const [code] = (await second.exited) as [number | null]
    assert.equal(code, 0, second.why())
  },
)

test(
  'backpressure: over ROUTER_QUEUE_HIGH_WATER jobs the router pauses (the backlog stays in Kafka) and resumes as the queues drain',
  { timeout: 150_000 },
  async (t) => {
    const total = 1000
    const h = await notificationsHarness(t, {
      kafka: { partitions: 2 },
      env: { LOG_LEVEL: 'warn', RATE_LIMIT_PER_RECIPIENT: '10000', ROUTER_QUEUE_HIGH_WATER: '100' },
    })
    const queues = channelQueues(h.queueRedis(), h.prefix)
    h.infra.defer(() => queues.close())
    const routed = await backlog(h, 'r-bp-', total)
    const waits = async (base: string) =>
      Number(
        /notifications_router_backpressure_waits_total\{[^}]*\} (\d+)/.exec(
          (await get(`${base}/metrics`)).text,
        )?.[1] ?? 0,
      )

    const router = await spawnProcess(h, '../src/router.ts')
    await eventually(
      'the router paused on the queues',
      async () => (await waits(router.base)) >= 1,
      router.why,
    )
    await new Promise((r) => setTimeout(r, 1500))
    const paused = await routed()
    t.diagnostic(`routed while paused: ${paused} of ${total}`)
    assert.ok(paused < total, `the router stopped short of the backlog (${paused} of ${total} routed)`)
    assert.ok(paused <= 2 * 200, `at most a chunk past the mark per partition (${paused} routed)`)

    // Workers drain the queues (here: the jobs are removed): the router goes on, pausing as needed.
    await eventually(
      'the rest routed as the queues drained',
      async () => {
        await Promise.all(Object.values(queues.channel).map((q) => q.drain(true)))
        return (await routed()) === total
      },
      router.why,
    )
    router.child.kill('SIGTERM')
    const [code] = (await router.exited) as [number | null]
    assert.equal(code, 0, router.why())
  },
)

/**
 * A backlog waiting for a router: `total` notifications over ten recipients
 * (`<recipientPrefix>0` … `<recipientPrefix>9`) written as the API writes them, and their events
 * produced to the harness's topic. Returns `routed()`, how many of them have deliveries so far.
 */
async function backlog(
  h: NotificationsHarness,
  recipientPrefix: string,
  total: number,
): Promise<() => Promise<number>> {
  const recipients = new RecipientRepository(h.db)
  for (let i = 0; i < 10; i++) await recipients.put(recipient(`${recipientPrefix}${i}`))
  const { rows } = await h.db.query<{ event: NotificationEvent }>(
    `WITH n AS (
       INSERT INTO notifications (recipient_id, template, data, category, priority, expires_at)
       SELECT $2::text || (g % 10), 'otp', '{"code": "1"}', 'security', 'normal', now() + interval '1 hour'
       FROM generate_series(1, $1) AS g
       RETURNING *
     )
     SELECT jsonb_build_object('type', 'notification_accepted', 'notification', jsonb_build_object(
       'id', id, 'recipientId', recipient_id, 'template', template, 'data', data, 'channels', channels,
       'category', category, 'priority', priority, 'createdAt', created_at, 'expiresAt', expires_at)) AS event
     FROM n`,
    [total, recipientPrefix],
  )
  const kafka = createKafka({
    brokers: h.config().kafkaBrokers,
    clientId: `router-backlog-${randomUUID()}`,
    log: silentLog,
  })
  h.infra.defer(() => disconnectProducer(kafka))
  await (await getProducer(kafka)).send({
    topic: h.topic as string,
    acks: -1,
    messages: rows.map((r) => ({ key: r.event.notification.recipientId, value: JSON.stringify(r.event) })),
  })
  const countRouted = 'SELECT count(DISTINCT notification_id) AS n FROM deliveries'
  return async () => Number((await h.db.query<{ n: string }>(countRouted)).rows[0]?.n)
}
