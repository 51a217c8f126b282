/**
 * The testkit against the real infrastructure it resolves (the native topology by default, or
 * whatever the env vars point at). Cleanups are checked from the outer test, after the inner
 * test's `after` hooks have run.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { serviceEnv } from '@faultline/infra'
import { Redis } from 'ioredis'
import { Kafka, logLevel } from 'kafkajs'
import pg from 'pg'
import {
  deleteKeysWithPrefix,
  keyPrefix,
  randomId,
  resolveInfra,
  TestkitError,
  testInfra,
  withSearchPath,
} from '../src/index.ts'

async function schemaExists(databaseUrl: string, schema: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const res = await client.query('select 1 from information_schema.schemata where schema_name = $1', [
      schema,
    ])
    return res.rowCount === 1
  } finally {
    await client.end()
  }
}

async function keysWithPrefix(redisUrl: string, prefix: string): Promise<string[]> {
  const client = new Redis(redisUrl)
  try {
    const keys: string[] = []
    let cursor = '0'
    do {
      const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      cursor = next
      keys.push(...batch)
    } while (cursor !== '0')
    return keys.sort()
  } finally {
    client.disconnect()
  }
}

test('an env var wins over the native default for its component only', async () => {
  const resolved = await resolveInfra({
    env: { REDIS_URL: 'redis://127.0.0.1:1' },
    mode: 'native',
    need: [],
  })
  const native = serviceEnv()
  assert.equal(resolved.urls.redisUrl, 'redis://127.0.0.1:1')
  assert.equal(resolved.sources.redis, 'env')
  assert.equal(resolved.urls.databaseUrl, native.DATABASE_URL)
  assert.equal(resolved.sources.postgres, 'native')
  assert.deepEqual(resolved.urls.kafkaBrokers, [native.KAFKA_BROKERS])
  assert.equal(resolved.env.REDIS_URL, 'redis://127.0.0.1:1')
  assert.equal(resolved.env.DATABASE_URL, native.DATABASE_URL)
})

test('an env override is used and checked on the real infrastructure', async () => {
  const baseline = await resolveInfra({ need: ['redis'] })
  const override = new URL(baseline.urls.redisUrl)
  override.pathname = '/1'
  const resolved = await resolveInfra({
    env: { ...process.env, REDIS_URL: override.toString() },
    need: ['redis'],
  })
  assert.equal(resolved.urls.redisUrl, override.toString())
  assert.equal(resolved.sources.redis, 'env')
})

test('a component that does not answer fails with the way out in the message', async () => {
  await assert.rejects(
    resolveInfra({
      env: { DATABASE_URL: 'postgres://someone:secret@127.0.0.1:1/nowhere' },
      need: ['postgres'],
      probeTimeoutMs: 2000,
    }),
    (err) => {
      assert.ok(err instanceof TestkitError)
      assert.equal(err.code, 'TESTKIT_ERR_INFRA_UNAVAILABLE')
      assert.match(err.message, /\.\/faultline infra up/)
      assert.match(err.message, /postgres at postgres:\/\/someone:\*\*\*@127\.0\.0\.1:1\/nowhere/)
      assert.doesNotMatch(err.message, /secret/)
      return true
    },
  )
})

test('a component outside `need` is not provided under external infra', async () => {
  const resolved = await resolveInfra({ env: {}, mode: 'external', need: [] })
  assert.throws(
    () => resolved.urls.databaseUrl,
    (err) => err instanceof TestkitError && err.code === 'TESTKIT_ERR_NOT_PROVIDED',
  )
})

test('withSearchPath keeps the rest of the URL and any existing options', () => {
  const url = withSearchPath(
    'postgres://u:p@127.0.0.1:25432/db?application_name=x&options=-c%20work_mem%3D8MB',
    't_1',
  )
  const parsed = new URL(url)
  assert.equal(parsed.searchParams.get('application_name'), 'x')
  assert.equal(parsed.searchParams.get('options'), '-c work_mem=8MB -c search_path=t_1')
  assert.equal(parsed.username, 'u')
  assert.equal(parsed.port, '25432')
})

test('two isolated schemas do not see each other’s tables, and both are dropped', async (t) => {
  const { urls } = await resolveInfra({ need: ['postgres'] })
  const schemas: string[] = []
  await t.test('inside', async (t) => {
    const infra = await testInfra(t, { need: ['postgres'] })
    const a = await infra.schema()
    const b = await infra.schema()
    schemas.push(a.schema, b.schema)
    assert.notEqual(a.schema, b.schema)
    assert.match(a.schema, /^t_[0-9a-f]+$/)

    const current = await a.pool.query<{ s: string }>('select current_schema() as s')
    assert.equal(current.rows[0]?.s, a.schema)

    await a.pool.query('create table items (id int primary key)')
    await a.pool.query('insert into items values (1), (2)')
    const seen = await b.pool.query<{ r: string | null }>("select to_regclass('items')::text as r")
    assert.equal(seen.rows[0]?.r, null)

    // The same name in the other schema is a different table.
    await b.pool.query('create table items (id int primary key)')
    const countA = await a.pool.query<{ n: number }>('select count(*)::int as n from items')
    const countB = await b.pool.query<{ n: number }>('select count(*)::int as n from items')
    assert.equal(countA.rows[0]?.n, 2)
    assert.equal(countB.rows[0]?.n, 0)

    // A pool the code under test builds from the URL lands in the schema too.
    const own = new pg.Pool({ connectionString: a.url, max: 1 })
    infra.defer(() => own.end())
    const ownCount = await own.query<{ n: number }>('select count(*)::int as n from items')
    assert.equal(ownCount.rows[0]?.n, 2)
  })
  assert.equal(schemas.length, 2)
  for (const schema of schemas) assert.equal(await schemaExists(urls.databaseUrl, schema), false, schema)
})

test('key prefix cleanup removes only its own keys, on both Redis instances', async (t) => {
  const { urls } = await resolveInfra({ need: ['redis', 'queueRedis'] })
  const foreign = keyPrefix()
  const outsider = new Redis(urls.redisUrl, { keyPrefix: foreign })
  await outsider.set('kept', '1')
  t.after(async () => {
    await deleteKeysWithPrefix(urls.redisUrl, foreign)
    outsider.disconnect()
  })

  let prefix = ''
  await t.test('inside', async (t) => {
    const infra = await testInfra(t, { need: ['redis', 'queueRedis'] })
    prefix = infra.keyPrefix()
    assert.match(prefix, /^t:[0-9a-f]+:$/)
    const cache = new Redis(infra.urls.redisUrl, { keyPrefix: prefix })
    const queue = new Redis(infra.urls.queueRedisUrl, { keyPrefix: prefix })
    infra.defer(() => {
      cache.disconnect()
      queue.disconnect()
    })
    await cache.set('a', '1')
    await cache.hset('h', 'f', 'v')
    await queue.rpush('jobs', 'x')
    assert.deepEqual(await keysWithPrefix(urls.redisUrl, prefix), [`${prefix}a`, `${prefix}h`])
  })

  assert.deepEqual(await keysWithPrefix(urls.redisUrl, prefix), [])
  assert.deepEqual(await keysWithPrefix(urls.queueRedisUrl, prefix), [])
  assert.deepEqual(await keysWithPrefix(urls.redisUrl, foreign), [`${foreign}kept`])
})

test('deleteKeysWithPrefix walks every SCAN page', async (t) => {
  const { urls } = await resolveInfra({ need: ['redis'] })
  const prefix = keyPrefix()
  const client = new Redis(urls.redisUrl)
  t.after(() => client.disconnect())
  const pipeline = client.pipeline()
  for (let i = 0; i < 2500; i++) pipeline.set(`${prefix}${i}`, '1')
  await pipeline.exec()
  assert.equal(await deleteKeysWithPrefix(urls.redisUrl, prefix), 2500)
  assert.deepEqual(await keysWithPrefix(urls.redisUrl, prefix), [])
})

test('a unique topic is deleted after the test', async (t) => {
  const { urls } = await resolveInfra({ need: ['kafka'] })
  const admin = new Kafka({
    clientId: 'testkit-test',
    brokers: urls.kafkaBrokers,
    logLevel: logLevel.NOTHING,
  }).admin()
  await admin.connect()
  t.after(() => admin.disconnect())

  let created = ''
  let named = ''
  await t.test('inside', async (t) => {
    const infra = await testInfra(t, { need: ['kafka'] })
    named = infra.topic('orders')
    created = await infra.createTopic('orders', 2)
    assert.match(created, /^orders\.t[0-9a-f]+$/)
    assert.notEqual(created, named)
    const metadata = await admin.fetchTopicMetadata({ topics: [created] })
    assert.equal(metadata.topics[0]?.partitions.length, 2)
  })

  // Kafka deletes topics asynchronously: wait (bounded) for the listing to catch up.
  let topics = await admin.listTopics()
  for (let i = 0; i < 50 && topics.includes(created); i++) {
    await sleep(200)
    topics = await admin.listTopics()
  }
  assert.equal(topics.includes(created), false)
  assert.equal(topics.includes(named), false)
})

test('randomId is hex of the requested size', () => {
  assert.match(randomId(), /^[0-9a-f]{12}$/)
  assert.match(randomId(2), /^[0-9a-f]{4}$/)
})
