/**
 * The client factories against the real Postgres, Redis and Kafka of the native topology (or
 * whatever the testkit resolves), each test on its own key prefix / topic.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { randomId, testInfra } from '@faultline/testkit'
import { Redis } from 'ioredis'
import {
  createKafka,
  createPgPool,
  createRedis,
  disconnectProducer,
  getProducer,
  kafkaConsumerReadinessCheck,
  kafkaProducerPlugin,
  pgPoolPlugin,
  pgReadinessCheck,
  redisPlugin,
  withPgClient,
} from '../src/clients.ts'
import { createMetrics } from '../src/metrics.ts'
import { createService } from '../src/service.ts'

const sample = (text: string, metric: string, pool: string) => {
  const match = text.match(new RegExp(`^${metric}\\{pool="${pool}"\\} (\\d+)$`, 'm'))
  return match ? Number(match[1]) : undefined
}

test('the pg pool gauges reflect a checked-out client and a waiting request', async (t) => {
  const infra = await testInfra(t, { need: ['postgres'] })
  const pool = createPgPool(infra.urls.databaseUrl, {
    max: 1,
    applicationName: 'kit-test',
    statementTimeoutMs: 5000,
  })
  const app = createService({
    name: 'test',
    level: 'silent',
    metrics: createMetrics({ defaultMetrics: false }),
  })
  infra.defer(() => pool.end())
  infra.defer(() => app.close())
  app.metrics.observePgPool(pool, 'primary')

  const client = await pool.connect()
  const waiting = pool.connect()
  let text = (await app.inject('/metrics')).body
  assert.equal(sample(text, 'pg_pool_clients_total', 'primary'), 1)
  assert.equal(sample(text, 'pg_pool_clients_idle', 'primary'), 0)
  assert.equal(sample(text, 'pg_pool_requests_waiting', 'primary'), 1)

  const { rows } = await client.query<{ name: string }>('select current_setting($1) as name', [
    'application_name',
  ])
  assert.equal(rows[0]?.name, 'kit-test')
  client.release()
  ;(await waiting).release()
  text = (await app.inject('/metrics')).body
  assert.equal(sample(text, 'pg_pool_clients_idle', 'primary'), 1)
  assert.equal(sample(text, 'pg_pool_requests_waiting', 'primary'), 0)
})

test('withPgClient: a connection the server ends between two statements is an error to the caller, not a crash', async (t) => {
  const infra = await testInfra(t, { need: ['postgres'] })
  const pool = createPgPool(infra.urls.databaseUrl, { max: 2, applicationName: 'kit-test' })
  infra.defer(() => pool.end())

  const failure = withPgClient(pool, async (client) => {
    const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid')
    // Bounded so that a regression fails the test instead of hanging it: without the listener the
    // 'error' throws out of pg's socket handler and 'end' never comes.
    const ended = Promise.race([new Promise((resolve) => client.once('end', resolve)), sleep(10_000)])
    // The server ends this connection while it is checked out and idle: pg gets FATAL 57P01 with
    // no query to hand it to and emits 'error' on the client. Unheard, that exits the process.
    await pool.query('select pg_terminate_backend($1)', [rows[0]?.pid])
    await ended
    await client.query('select 1')
  })
  await assert.rejects(failure, /terminat|not queryable|Connection/i)
  assert.equal(pool.totalCount, 1, 'the broken client was destroyed, not put back')
  assert.equal(await withPgClient(pool, async (c) => (await c.query('select 2 as n')).rows[0]?.n), 2)
})

test('the Kafka producer is one instance per brokers and client id', async (t) => {
  const infra = await testInfra(t, { need: ['kafka'] })
  const clientId = `kit-test-${randomId()}`
  const kafka = createKafka({ brokers: infra.urls.kafkaBrokers, clientId })
  infra.defer(() => disconnectProducer(kafka))

  const first = await getProducer(kafka)
  const second = await getProducer(kafka)
  assert.equal(first, second)
  // Another Kafka object with the same brokers and client id shares the producer.
  const again = createKafka({ brokers: infra.urls.kafkaBrokers.join(','), clientId })
  assert.equal(await getProducer(again), first)

  const topic = await infra.createTopic('kit-producer')
  const [metadata] = await first.send({ topic, messages: [{ key: 'k', value: 'v' }] })
  assert.equal(metadata?.errorCode, 0)

  // Disconnected behind the kit's back: the next call connects a fresh one instead.
  await first.disconnect()
  const fresh = await getProducer(kafka)
  assert.notEqual(fresh, first)
  assert.equal(await getProducer(kafka), fresh)
})

test('a pg pool sets search_path and application_name on every connection', async (t) => {
  const infra = await testInfra(t, { need: ['postgres'] })
  const { schema } = await infra.schema()
  const pool = createPgPool(infra.urls.databaseUrl, {
    searchPath: schema,
    applicationName: 'kit-search-path',
  })
  infra.defer(() => pool.end())
  const { rows } = await pool.query<{ path: string; app: string }>(
    "select current_setting('search_path') as path, current_setting('application_name') as app",
  )
  assert.equal(rows[0]?.path, schema)
  assert.equal(rows[0]?.app, 'kit-search-path')
})

test('kafkaProducerPlugin decorates the process producer and disconnects it on close', async (t) => {
  const infra = await testInfra(t, { need: ['kafka'] })
  const kafka = createKafka({ brokers: infra.urls.kafkaBrokers, clientId: `kit-test-${randomId()}` })
  const app = createService({
    name: 'test',
    level: 'silent',
    metrics: createMetrics({ defaultMetrics: false }),
  })
  infra.defer(() => app.close())
  await app.register(kafkaProducerPlugin, { kafka })
  await app.ready()
  assert.equal(app.kafkaProducer, await getProducer(kafka))
  await app.close()
  const next = await getProducer(kafka)
  infra.defer(() => disconnectProducer(kafka))
  assert.notEqual(next, app.kafkaProducer, 'closing the app released the singleton')
})

test('a consumer is ready from joining its group until it disconnects', async (t) => {
  const infra = await testInfra(t, { need: ['kafka'] })
  const topic = await infra.createTopic('kit-ready', 1)
  const kafka = createKafka({ brokers: infra.urls.kafkaBrokers, clientId: `kit-test-${randomId()}` })
  const consumer = kafka.consumer({ groupId: `kit-test-${randomId()}`, heartbeatInterval: 500 })
  infra.defer(() => consumer.disconnect())
  const check = kafkaConsumerReadinessCheck(consumer)
  const signal = new AbortController().signal
  await assert.rejects(check(signal), /has not joined its group yet/)
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({ eachMessage: async () => {} })
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      await check(signal)
      break
    } catch (err) {
      if (Date.now() > deadline) throw err
      await sleep(100)
    }
  }
  await consumer.disconnect()
  await assert.rejects(check(signal), /consumer (stopped|disconnected)/)
})

test('a redis client with a key prefix round-trips and writes under the prefix', async (t) => {
  const infra = await testInfra(t, { need: ['redis'] })
  const prefix = infra.keyPrefix()
  const redis = createRedis(infra.urls.redisUrl, { name: 'cache', keyPrefix: prefix })
  const raw = new Redis(infra.urls.redisUrl)
  infra.defer(() => redis.quit())
  infra.defer(() => raw.quit())

  assert.equal(await redis.set('link:abc', 'https://example.com', 'EX', 60), 'OK')
  assert.equal(await redis.get('link:abc'), 'https://example.com')
  assert.equal(await raw.get(`${prefix}link:abc`), 'https://example.com')
  assert.equal(await raw.get('link:abc'), null)
})

test('plugins decorate the app, add opt-in readiness checks and close what they created', async (t) => {
  const infra = await testInfra(t, { need: ['postgres', 'redis'] })
  const app = createService({
    name: 'test',
    level: 'silent',
    metrics: createMetrics({ defaultMetrics: false }),
  })
  await app.register(pgPoolPlugin, { url: infra.urls.databaseUrl, max: 2, readinessCheck: true })
  await app.register(redisPlugin, {
    url: infra.urls.redisUrl,
    keyPrefix: infra.keyPrefix(),
    readinessCheck: true,
  })
  await app.ready()

  const ready = await app.inject('/readyz')
  assert.equal(ready.statusCode, 200, ready.body)
  assert.deepEqual(Object.keys(ready.json().checks).sort(), ['pg', 'redis'])
  assert.equal((await app.pg.query('select 1 as one')).rows[0].one, 1)
  assert.equal(await app.redis.ping(), 'PONG')
  assert.match((await app.inject('/metrics')).body, /pg_pool_clients_total\{pool="pg"\}/)

  const { pg, redis } = app
  await app.close()
  assert.equal(pg.ended, true)
  assert.equal(redis.status, 'end')
})

test('/readyz names a Postgres that does not answer', async (t) => {
  // Port 1 on loopback refuses connections: a real unreachable Postgres, no mock.
  const pool = createPgPool('postgres://faultline:faultline@127.0.0.1:1/faultline', {
    connectionTimeoutMs: 500,
  })
  const app = createService({
    name: 'test',
    level: 'silent',
    metrics: createMetrics({ defaultMetrics: false }),
  })
  t.after(() => pool.end())
  t.after(() => app.close())
  app.readiness.add('postgres', pgReadinessCheck(pool), { timeoutMs: 2000 })
  const res = await app.inject('/readyz')
  assert.equal(res.statusCode, 503)
  assert.deepEqual(res.json().failing, ['postgres'])
  assert.match(res.json().checks.postgres.error, /ECONNREFUSED/)
})
