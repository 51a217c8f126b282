import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { test } from 'node:test'
import { proxies } from '@faultline/infra'
import { createKafka, disconnectProducer, getProducer } from '@faultline/kit/clients'
import { createMetrics } from '@faultline/kit/metrics'
import { ToxiproxyClient } from '@faultline/toxiproxy'
import type { Kafka } from 'kafkajs'
import { type ClickBatch, encodeClickBatch, toClickBatch } from '../src/clicks/batch.ts'
import { createClickBatchHandler, runClickConsumer } from '../src/clicks/consumer.ts'
import type { DropReason, SendClicks } from '../src/clicks/recorder.ts'
import type { ClickEvent } from '../src/clicks/spool.ts'
import { createWorkerMetrics } from '../src/metrics.ts'
import { ClickRepository } from '../src/repositories/clicks.ts'
import { createLink, eventually, harness, type Instance, silentLog } from './helpers.ts'

async function clickCount(
  app: { inject: (o: { url: string }) => Promise<{ json(): unknown }> },
  code: string,
) {
  return ((await app.inject({ url: `/api/links/${code}` })).json() as { clicks: number }).clicks
}

/**
 * What server.ts does with a recorder's batch: one message on `topic` through the process's one
 * producer, looked up at each send so that one lost with the broker is connected again.
 */
const publishTo =
  (kafka: Kafka, topic: string): SendClicks =>
  async (events) => {
    const producer = await getProducer(kafka)
    await producer.send({ topic, messages: [encodeClickBatch(toClickBatch(events))] })
  }

/** Runs the worker's consumer on `topic` in this process until the test ends. */
async function startWorker(
  h: Awaited<ReturnType<typeof harness>>,
  kafka: Kafka,
  topic: string,
  groupId: string,
) {
  const metrics = createWorkerMetrics(createMetrics({ defaultMetrics: false }).registry)
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1000 })
  h.infra.defer(() => consumer.disconnect())
  await consumer.connect()
  await runClickConsumer(
    consumer,
    topic,
    createClickBatchHandler({ clicks: new ClickRepository(h.db), metrics, log: silentLog }),
  )
  return metrics
}

test('click pipeline end to end: redirects → spool → Kafka → worker → count in GET /api/links/:code', async (t) => {
  const h = await harness(t, { kafka: true })
  const topic = await h.infra.createTopic('clicks', 3)
  const kafka = createKafka({
    brokers: h.infra.urls.kafkaBrokers,
    clientId: `shortener-test-${randomUUID()}`,
  })
  h.infra.defer(() => disconnectProducer(kafka))
  const i = await h.instance({
    env: { CLICKS_TOPIC: topic, CLICK_BATCH_MAX: '50' },
    sendClicks: publishTo(kafka, topic),
  })
  const metrics = await startWorker(h, kafka, topic, `g-${randomUUID()}`)

  const a = (await createLink(i.app, { url: 'https://example.com/a' })).body.code as string
  const b = (await createLink(i.app, { url: 'https://example.com/b' })).body.code as string
  for (let n = 0; n < 120; n++)
    assert.equal((await i.app.inject({ url: `/${n % 3 === 0 ? b : a}` })).statusCode, 302)

  await eventually(
    'counts reach Postgres',
    async () => (await clickCount(i.app, a)) === 80 && (await clickCount(i.app, b)) === 40,
  )
  assert.equal(await i.metric('shortener_clicks_published_total'), 120)
  assert.equal(await i.metric('shortener_clicks_dropped_total'), 0)
  assert.equal((await metrics.counted.get()).values[0]?.value, 120)
})

test('replaying the whole topic (a new consumer group from the beginning) does not double-count', async (t) => {
  const h = await harness(t, { kafka: true })
  const topic = await h.infra.createTopic('clicks', 2)
  const kafka = createKafka({
    brokers: h.infra.urls.kafkaBrokers,
    clientId: `shortener-test-${randomUUID()}`,
  })
  const producer = await getProducer(kafka)
  h.infra.defer(() => disconnectProducer(kafka))
  const i = await h.instance({
    sendClicks: publishTo(kafka, topic),
  })
  const code = (await createLink(i.app, { url: 'https://example.com/r' })).body.code as string
  for (let n = 0; n < 30; n++) await i.app.inject({ url: `/${code}` })
  // The same events produced twice (what a producer retry after a lost ack does).
  const recorder = randomUUID()
  const events: ClickEvent[] = Array.from({ length: 10 }, (_, seq) => ({
    producer: recorder,
    seq,
    code,
    ts: Date.now(),
  }))
  await publishTo(kafka, topic)(events)
  await publishTo(kafka, topic)(events)
  // And a message that is not a click event at all.
  await producer.send({ topic, messages: [{ key: code, value: 'not json' }] })

  const first = await startWorker(h, kafka, topic, `g-${randomUUID()}`)
  await eventually('first pass counted', async () => (await clickCount(i.app, code)) === 40)
  assert.equal((await first.duplicates.get()).values[0]?.value, 10)
  assert.equal((await first.invalid.get()).values[0]?.value, 1)

  const replay = await startWorker(h, kafka, topic, `g-${randomUUID()}`)
  await eventually(
    'replay consumed everything',
    async () => (await replay.consumed.get()).values[0]?.value === 50,
  )
  assert.equal(await clickCount(i.app, code), 40, 'still 40 after the replay')
  assert.equal((await replay.counted.get()).values[0]?.value, 0)
})

test('applyBatches is idempotent: a replay counts zero, a retried longer batch counts only its new events', async (t) => {
  const h = await harness(t)
  const repo = new ClickRepository(h.db)
  const P = randomUUID()
  const first: ClickBatch = { producer: P, firstSeq: 0, codes: ['aaa', 'aaa', 'bbb'], ts: [1, 2, 3] }
  assert.deepEqual(await repo.applyBatches([first]), { received: 3, counted: 3, duplicates: 0 })
  assert.deepEqual(await repo.applyBatches([first]), { received: 3, counted: 0, duplicates: 3 })
  const retried: ClickBatch = {
    producer: P,
    firstSeq: 0,
    codes: ['aaa', 'aaa', 'bbb', 'ccc'],
    ts: [1, 2, 3, 4],
  }
  assert.deepEqual(await repo.applyBatches([retried]), { received: 4, counted: 1, duplicates: 3 })
  const { rows } = await h.db.query('SELECT code, count::int FROM link_clicks ORDER BY code')
  assert.deepEqual(rows, [
    { code: 'aaa', count: 2 },
    { code: 'bbb', count: 1 },
    { code: 'ccc', count: 1 },
  ])
  const marks = await h.db.query('SELECT producer::text, applied_seq::int FROM click_producers')
  assert.deepEqual(marks.rows, [{ producer: P, applied_seq: 3 }])
  // A quiet recorder's watermark is forgotten by the pruner (a replay older than that counts again).
  await h.db.query("UPDATE click_producers SET updated_at = now() - interval '8 days'")
  assert.equal(await repo.pruneWatermarks(7 * 24 * 3_600_000), 1)
})

test('two workers applying the same batches at once (a rebalance) count them once', async (t) => {
  const h = await harness(t)
  const repo = new ClickRepository(h.db)
  const P = randomUUID()
  const Q = randomUUID()
  const batches: ClickBatch[] = [
    { producer: Q, firstSeq: 0, codes: ['xx', 'yy'], ts: [1, 2] },
    { producer: P, firstSeq: 0, codes: ['yy', 'xx', 'xx'], ts: [1, 2, 3] },
  ]
  for (let round = 0; round < 5; round++) {
    const next = batches.map((b) => ({ ...b, firstSeq: b.firstSeq + round * 10 }))
    const results = await Promise.all([repo.applyBatches(next), repo.applyBatches([...next].reverse())])
    assert.equal(results[0].counted + results[1].counted, 5, `round ${round}: ${JSON.stringify(results)}`)
  }
  const { rows } = await h.db.query('SELECT code, count::int FROM link_clicks ORDER BY code')
  assert.deepEqual(rows, [
    { code: 'xx', count: 15 },
    { code: 'yy', count: 10 },
  ])
})

/**
 * The Toxiproxy proxy in front of this test's Kafka, so the test can take the broker away for
 * real; or why there is none (under testcontainers the test reaches Kafka directly).
 */
async function kafkaProxy(
  h: Awaited<ReturnType<typeof harness>>,
): Promise<{ toxiproxy: ToxiproxyClient; name: string } | { reason: string }> {
  let url: string
  try {
    url = h.infra.urls.toxiproxyUrl
  } catch {
    return {
      reason: `no Toxiproxy in front of Kafka under ${h.infra.mode} infra (run it on the native topology)`,
    }
  }
  const toxiproxy = new ToxiproxyClient({ url })
  const { name } = proxies.kafka
  const listenPort = (await toxiproxy.proxy(name)).listen.split(':').at(-1)
  const direct = h.infra.urls.kafkaBrokers.filter((broker) => broker.split(':').at(-1) !== listenPort)
  // A broker reached around the proxy would keep Kafka up while the test believes it is down.
  assert.deepEqual(direct, [], `every Kafka broker must be reached through the Toxiproxy proxy "${name}"`)
  return { toxiproxy, name }
}

const droppedBy = async (i: Instance, reason: DropReason) =>
  (await i.shortener.metrics.clicksDropped.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0

test('Kafka down: redirects never wait, events wait in the spool and arrive once Kafka is back', async (t) => {
  const h = await harness(t, { kafka: true })
  const proxy = await kafkaProxy(h)
  if ('reason' in proxy) return t.skip(proxy.reason)
  const topic = await h.infra.createTopic('clicks', 1)
  const kafka = createKafka({
    brokers: h.infra.urls.kafkaBrokers,
    clientId: `shortener-test-${randomUUID()}`,
  })
  await getProducer(kafka) // connected before the outage, as a running API's producer is
  h.infra.defer(() => disconnectProducer(kafka))
  // Kafka comes back even when the test fails or times out inside the outage: the proxy is shared.
  h.infra.defer(() => proxy.toxiproxy.enableProxy(proxy.name))
  const i = await h.instance({
    env: { CLICK_SPOOL_MAX: '25', CLICK_FLUSH_INTERVAL_MS: '10' },
    sendClicks: publishTo(kafka, topic),
  })
  const code = (await createLink(i.app, { url: 'https://example.com/k' })).body.code as string

  await proxy.toxiproxy.withProxyDisabled(proxy.name, async () => {
    for (let n = 0; n < 40; n++) assert.equal((await i.app.inject({ url: `/${code}` })).statusCode, 302)
    // The broker refused a real publish, and the spool kept the batch it could not send.
    await eventually(
      'a publish failed while Kafka is down',
      async () => (await i.metric('shortener_click_publish_errors_total')) >= 1,
    )
    assert.equal(await i.metric('shortener_clicks_published_total'), 0)
    assert.equal(await i.metric('shortener_clicks_spooled'), 25)
    assert.equal(await droppedBy(i, 'spool_full'), 15, 'overflow counted, not silent')
    assert.equal(await i.metric('shortener_clicks_dropped_total'), 15, 'only the overflow is lost')
  })

  await startWorker(h, kafka, topic, `g-${randomUUID()}`)
  await eventually('spooled clicks counted', async () => (await clickCount(i.app, code)) === 25)
  assert.equal(await i.metric('shortener_clicks_spooled'), 0)
  assert.equal(await i.metric('shortener_clicks_published_total'), 25)
  assert.equal(await i.metric('shortener_clicks_dropped_total'), 15, 'nothing lost after Kafka came back')
})
