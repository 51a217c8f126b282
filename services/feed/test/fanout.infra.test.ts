// The fan-out worker on real Postgres, Kafka and Redis (each test: its own schema, key prefix,
// topic and consumer group). Posts are written as the API writes them (post + outbox row in one
// transaction) and travel the real path: outbox → relay → Kafka → worker → Redis timelines.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import {
  createKafka,
  createPgPool,
  createRedis,
  disconnectProducer,
  getProducer,
} from '@faultline/kit/clients'
import { createMetrics } from '@faultline/kit/metrics'
import { OutboxRelay } from '@faultline/kit/outbox-relay'
import { connectRelaySession, outboxRelayLockName } from '@faultline/kit/outbox-relay-process'
import type { AfterHost, TestInfra } from '@faultline/testkit'
import { randomId, testInfra } from '@faultline/testkit'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { type Config, loadConfig } from '../src/config.ts'
import { createFanout } from '../src/fanout/components.ts'
import { Keys } from '../src/keys.ts'
import { runMigrations } from '../src/migrate.ts'
import type { Mitigations } from '../src/mitigations.ts'
import { TimelineStore } from '../src/timeline-store.ts'
import {
  createPost as apiCreatePost,
  createUser as apiCreateUser,
  follow as apiFollow,
  feedHarness,
} from './helpers.ts'

const workerEntry = fileURLToPath(new URL('../src/worker.ts', import.meta.url))

const quiet = { info() {}, warn() {}, error() {} }

interface Setup {
  infra: TestInfra
  db: pg.Pool
  redis: Redis
  keys: Keys
  /** A store on the test's prefix, for making users active and reading timelines. */
  store: TimelineStore
  env: Record<string, string>
  config: Config
}

async function setup(t: AfterHost, env: Record<string, string> = {}, partitions = 2): Promise<Setup> {
  const infra = await testInfra(t, { need: ['postgres', 'redis', 'kafka'] })
  const { schema, pool: db } = await infra.schema()
  await runMigrations({ pool: db, schema })
  const topic = await infra.createTopic('feed-posts', partitions)
  const prefix = infra.keyPrefix().replace(/:$/, '')
  const fullEnv = {
    DATABASE_URL: infra.urls.databaseUrl,
    DB_SCHEMA: schema,
    REDIS_URL: infra.urls.redisUrl,
    REDIS_KEY_PREFIX: prefix,
    KAFKA_BROKERS: infra.urls.kafkaBrokers.join(','),
    POSTS_TOPIC: topic,
    POSTS_TOPIC_PARTITIONS: String(partitions),
    FANOUT_GROUP_ID: `fanout-${randomId()}`,
    MIGRATE_ON_START: 'false',
    LOG_LEVEL: 'warn',
    ...env,
  }
  const config = loadConfig(fullEnv)
  const redis = createRedis(infra.urls.redisUrl, { name: 'fanout-test', commandTimeoutMs: 2000 })
  infra.defer(() => redis.disconnect())
  const keys = new Keys(prefix)
  const store = new TimelineStore(redis, {
    keys,
    timelineCap: config.timelineCap,
    authorRecentCap: config.authorRecentCap,
    activeWindowMs: config.activeWindowMs,
  })
  const s: Setup = { infra, db, redis, keys, store, env: fullEnv, config }
  startRelay(s)
  return s
}

/** The relay, in-process, as relay.ts wires it. */
function startRelay(s: Setup): void {
  const kafka = createKafka({ brokers: s.config.kafkaBrokers, clientId: `relay-${randomId()}` })
  const relay = new OutboxRelay({
    connect: () => connectRelaySession(s.config, 'feed-relay-test'),
    publish: async (messages) => {
      const producer = await getProducer(kafka, { idempotent: true, maxInFlightRequests: 1 })
      await producer.send({ topic: s.config.postsTopic, acks: -1, messages })
    },
    lockName: outboxRelayLockName('feed', s.config.dbSchema),
    batchMax: s.config.relayBatchMax,
    pollMs: s.config.relayPollMs,
    log: quiet,
  })
  const stop = new AbortController()
  const running = relay.run(stop.signal)
  s.infra.defer(async () => {
    stop.abort()
    await running
    await disconnectProducer(kafka)
  })
}

/** The worker's graph, in-process (worker.ts runs the same createFanout). */
async function startWorker(s: Setup, mitigations: Partial<Mitigations> = {}) {
  const pool = createPgPool(s.config.databaseUrl, { max: 4, searchPath: s.config.dbSchema })
  const redis = createRedis(s.config.redisUrl, { name: 'fanout-worker-test', commandTimeoutMs: 5000 })
  const kafka = createKafka({ brokers: s.config.kafkaBrokers, clientId: `worker-${randomId()}` })
  const metrics = createMetrics({ defaultMetrics: false })
  const config = { ...s.config, mitigations: { ...s.config.mitigations, ...mitigations } }
  const fanout = createFanout(config, { pool, redis, kafka, metrics, log: quiet })
  s.infra.defer(async () => {
    await fanout.stop()
    redis.disconnect()
    await pool.end()
  })
  await fanout.start()
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const m = metrics.registry.getSingleMetric(name)
    if (!m) throw new Error(`no metric ${name}`)
    return (await m.get()).values
      .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
      .filter((v) => !('metricName' in v) || v.metricName === `${name}_count` || !v.metricName)
      .reduce((sum, v) => sum + v.value, 0)
  }
  return { fanout, metric }
}

async function createUsers(s: Setup, n: number): Promise<string[]> {
  const { rows } = await s.db.query<{ id: string }>(
    `INSERT INTO users (handle) SELECT 'u' || $1 || '_' || g FROM generate_series(1, $2) g RETURNING id::text`,
    [randomId(), n],
  )
  return rows.map((r) => r.id)
}

/** Follows and follower_count in one transaction, as the API keeps them. */
async function follow(s: Setup, followers: string[], authorId: string): Promise<void> {
  await s.db.query(
    `WITH f AS (
       INSERT INTO follows (follower_id, followee_id) SELECT unnest($1::bigint[]), $2 RETURNING 1
     ) UPDATE users SET follower_count = follower_count + (SELECT count(*) FROM f) WHERE id = $2`,
    [followers, authorId],
  )
}

/** A post and its outbox row in one transaction, as the API writes them. */
async function writePost(s: Setup, authorId: string): Promise<string> {
  const client = await s.db.connect()
  try {
    await client.query('BEGIN')
    const { rows } = await client.query<{ id: string; ms: number }>(
      `INSERT INTO posts (id, author_id, text, created_at)
       VALUES (post_id_at(clock_timestamp()), $1, 'hi', date_trunc('milliseconds', clock_timestamp()))
       RETURNING id::text, (extract(epoch FROM created_at) * 1000)::float8 AS ms`,
      [authorId],
    )
    const post = rows[0]
    if (!post) throw new Error('no post')
    const payload = { type: 'post_created', postId: post.id, authorId, createdAtMs: post.ms }
    await client.query('INSERT INTO outbox (key, payload) VALUES ($1, $2)', [authorId, payload])
    await client.query('COMMIT')
    return post.id
  } finally {
    client.release()
  }
}

async function deletePost(s: Setup, authorId: string, postId: string): Promise<void> {
  await s.db.query(
    `WITH d AS (UPDATE posts SET deleted_at = now() WHERE id = $1 RETURNING 1)
     INSERT INTO outbox (key, payload) SELECT $2, $3 FROM d`,
    [postId, authorId, { type: 'post_deleted', postId, authorId }],
  )
}

/** The same created event published again (a relay that crashed between its send and its delete). */
async function republish(s: Setup, authorId: string, postId: string): Promise<void> {
  const { rows } = await s.db.query<{ ms: number }>(
    'SELECT (extract(epoch FROM created_at) * 1000)::float8 AS ms FROM posts WHERE id = $1',
    [postId],
  )
  await s.db.query('INSERT INTO outbox (key, payload) VALUES ($1, $2)', [
    authorId,
    { type: 'post_created', postId, authorId, createdAtMs: rows[0]?.ms },
  ])
}

async function activate(s: Setup, userIds: string[]): Promise<void> {
  for (const id of userIds) await s.store.buildTimeline(id, [])
}

async function timeline(s: Setup, userId: string): Promise<string[] | null> {
  return s.store.timelinePage(userId, 1000)
}

/** What an author's recent set holds, newest first, complete or not (the worker only adds to it). */
async function authorIds(s: Setup, authorId: string): Promise<string[]> {
  return s.redis.zrange(s.keys.authorPosts(authorId), '+inf', '(0', 'BYSCORE', 'REV')
}

async function eventually(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 45_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

test('a committed post reaches its author and active followers only', async (t) => {
  const s = await setup(t)
  const [author = '', active1 = '', active2 = '', inactive = '', stranger = ''] = await createUsers(s, 5)
  await follow(s, [active1, active2, inactive], author)
  await activate(s, [author, active1, active2, stranger])
  const w = await startWorker(s)

  const postId = await writePost(s, author)
  await eventually(
    'the worker applied the post',
    async () => (await w.metric('feed_fanout_events_total')) === 1,
  )
  assert.deepEqual(await timeline(s, author), [postId])
  assert.deepEqual(await timeline(s, active1), [postId])
  assert.deepEqual(await timeline(s, active2), [postId])
  assert.equal(await timeline(s, inactive), null, 'an inactive follower gets no timeline')
  assert.deepEqual(await timeline(s, stranger), [])
  assert.deepEqual(await authorIds(s, author), [postId])
  assert.equal(await w.metric('feed_fanout_deliveries_total', { result: 'added' }), 3)
  assert.equal(await w.metric('feed_fanout_deliveries_total', { result: 'inactive' }), 1)
  assert.equal(await w.metric('feed_fanout_events_total', { type: 'created', class: 'regular' }), 1)
  assert.equal(await w.metric('feed_post_delivered_seconds', { class: 'regular' }), 1)
})

test('a celebrity is not pushed with hybrid fan-out on, and pushed with it off', async (t) => {
  const s = await setup(t, { FANOUT_CELEBRITY_THRESHOLD: '2' })
  const [celebrity = '', fan1 = '', fan2 = ''] = await createUsers(s, 3)
  await follow(s, [fan1, fan2], celebrity)
  await activate(s, [celebrity, fan1, fan2])
  const w = await startWorker(s)

  const pulled = await writePost(s, celebrity)
  await eventually('the first post applied', async () => (await w.metric('feed_fanout_events_total')) === 1)
  assert.deepEqual(await timeline(s, fan1), [], 'readers merge it from the author set instead')
  assert.deepEqual(await timeline(s, fan2), [])
  assert.deepEqual(await timeline(s, celebrity), [pulled], 'the author sees their own post')
  assert.deepEqual(await authorIds(s, celebrity), [pulled])

  w.fanout.switches.update({ hybridFanout: false })
  const pushed = await writePost(s, celebrity)
  await eventually('the second post applied', async () => (await w.metric('feed_fanout_events_total')) === 2)
  assert.deepEqual(await timeline(s, fan1), [pushed])
  assert.deepEqual(await timeline(s, fan2), [pushed])
  assert.equal(await w.metric('feed_fanout_events_total', { type: 'created', class: 'celebrity' }), 2)
})

test('a redelivered post adds nothing; a delete takes the post out everywhere and it stays out', async (t) => {
  const s = await setup(t)
  const [author = '', fan1 = '', fan2 = ''] = await createUsers(s, 3)
  await follow(s, [fan1, fan2], author)
  await activate(s, [author, fan1, fan2])
  const w = await startWorker(s)
  const events = () => w.metric('feed_fanout_events_total')

  const kept = await writePost(s, author)
  const gone = await writePost(s, author)
  await eventually('both posts applied', async () => (await events()) === 2)
  assert.equal(await w.metric('feed_fanout_deliveries_total', { result: 'added' }), 6)

  await republish(s, author, kept)
  await eventually('the redelivery applied', async () => (await events()) === 3)
  assert.equal(await w.metric('feed_fanout_deliveries_total', { result: 'added' }), 6, 'nothing new')
  assert.equal(await w.metric('feed_fanout_deliveries_total', { result: 'already' }), 3)
  assert.deepEqual(await timeline(s, fan1), [gone, kept])

  await deletePost(s, author, gone)
  await eventually('the delete applied', async () => (await events()) === 4)
  for (const user of [author, fan1, fan2]) assert.deepEqual(await timeline(s, user), [kept])
  assert.deepEqual(await authorIds(s, author), [kept])

  // A created event replayed after the delete (a relay failover) must not bring it back.
  await republish(s, author, gone)
  await eventually('the late redelivery was seen', async () => (await events()) === 5)
  assert.equal(await w.metric('feed_fanout_events_total', { type: 'skipped_deleted' }), 1)
  for (const user of [author, fan1, fan2]) assert.deepEqual(await timeline(s, user), [kept])
})

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()))
    })
  })
}

/** worker.ts as its own process; SIGKILLed at cleanup if it still runs. */
async function spawnWorker(s: Setup, env: Record<string, string>) {
  const port = await freePort()
  const logs: string[] = []
  const child: ChildProcess = spawn(process.execPath, [workerEntry], {
    env: { ...s.env, ...env, PATH: process.env.PATH ?? '', PORT: String(port), INSTANCE_ID: `w-${port}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout?.on('data', (b: Buffer) => logs.push(String(b)))
  child.stderr?.on('data', (b: Buffer) => logs.push(String(b)))
  const exited = once(child, 'exit')
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  }
  s.infra.defer(kill)
  return { child, exited, kill, logs, base: `http://127.0.0.1:${port}` }
}

async function get(url: string): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
    return { status: res.status, text: await res.text() }
  } catch (err) {
    return { status: 0, text: String(err) }
  }
}

test('the worker process serves its probes, metrics and switches on PORT and exits 0 on SIGTERM', async (t) => {
  const s = await setup(t)
  const [author = '', fan = ''] = await createUsers(s, 2)
  await follow(s, [fan], author)
  await activate(s, [fan])
  const worker = await spawnWorker(s, { MITIGATION_HYBRID_FANOUT: 'false' })
  const why = () => worker.logs.join('').slice(-3000)
  await eventually('the worker is ready (its consumer joined the group)', async () => {
    return (await get(`${worker.base}/readyz`)).status === 200
  }).catch((err: Error) => assert.fail(`${err.message}\n${why()}`))
  assert.deepEqual(Object.keys(JSON.parse((await get(`${worker.base}/readyz`)).text).checks).sort(), [
    'consumer',
    'started',
  ])
  assert.equal((await get(`${worker.base}/healthz`)).status, 200)

  const postId = await writePost(s, author)
  await eventually('delivered', async () => (await timeline(s, fan))?.includes(postId) ?? false)
  const scrape = (await get(`${worker.base}/metrics`)).text
  const line = (name: string) => scrape.split('\n').find((l) => l.startsWith(name)) ?? `no ${name}`
  assert.match(line('feed_fanout_deliveries_total{result="added"'), / 1$/)
  assert.match(line('feed_post_delivered_seconds_count{'), /class="regular".* 1$/)
  const switches = JSON.parse((await get(`${worker.base}/admin/mitigations`)).text)
  assert.equal(switches.hybridFanout, false)
  assert.equal(switches.commitAfterFanout, true)

  worker.child.kill('SIGTERM')
  const [code, signal] = (await worker.exited) as [number | null, string | null]
  assert.equal(signal, null, why())
  assert.equal(code, 0, why())
})

/**
 * pm15 in miniature: a backlog of posts to 60 active followers is in Kafka; a worker is SIGKILLed
 * while it is part-way through the batch; a second worker of the group takes the partition over.
 * Returns how many (follower, post) deliveries are missing once the second worker has applied a
 * marker post published after everything else.
 */
async function killMidBatch(t: AfterHost, commitAfterFanout: boolean): Promise<number> {
  const posts = 300
  const s = await setup(t, { FANOUT_PIPELINE: '4' }, 1)
  const [author = '', ...fans] = await createUsers(s, 61)
  await follow(s, fans, author)
  await activate(s, [author, ...fans])
  for (let i = 0; i < posts; i++) await writePost(s, author)
  await eventually('the relay published the backlog', async () => {
    return Number((await s.db.query('SELECT count(*) AS n FROM outbox')).rows[0].n) === 0
  })
  const last = fans.at(-1) ?? ''
  const progress = async () => (await s.redis.zcard(s.keys.timeline(last))) - 1

  const env = { MITIGATION_COMMIT_AFTER_FANOUT: String(commitAfterFanout) }
  const first = await spawnWorker(s, env)
  await eventually(
    'the first worker is part-way through the batch',
    async () => (await progress()) >= 10,
    60_000,
  )
  await first.kill()
  const delivered = await progress()
  assert.ok(delivered < posts, `killed mid-batch (${delivered} of ${posts} delivered)`)

  const second = await spawnWorker(s, env)
  const marker = await writePost(s, author)
  await eventually(
    'the second worker applied the marker',
    async () => (await s.redis.zscore(s.keys.timeline(last), marker)) !== null,
    60_000,
  ).catch((err: Error) => assert.fail(`${err.message}\n${second.logs.join('').slice(-2000)}`))
  const expected = Number(
    (await s.db.query('SELECT count(*) AS n FROM posts WHERE author_id = $1', [author])).rows[0].n,
  )
  let missing = 0
  for (const fan of fans) missing += expected - ((await timeline(s, fan))?.length ?? 0)
  return missing
}

test('naive commit-before-apply loses deliveries when a worker is killed mid-batch', async (t) => {
  const missing = await killMidBatch(t, false)
  assert.ok(missing > 0, 'the killed batch was committed before it was applied: its rest is lost')
})

test('hardened commit-after-apply loses nothing when a worker is killed mid-batch', async (t) => {
  assert.equal(await killMidBatch(t, true), 0)
})

test('end to end through the API: a post reaches an active follower through the outbox, relay and worker', async (t) => {
  const h = await feedHarness(t, { kafka: { partitions: 2 } })
  const { app } = await h.buildTestApp()
  const s: Setup = {
    infra: h.infra,
    db: h.db,
    redis: h.redis,
    keys: h.keys,
    store: new TimelineStore(h.redis, {
      keys: h.keys,
      timelineCap: 800,
      authorRecentCap: 200,
      activeWindowMs: 60_000,
    }),
    env: h.env,
    config: h.config(),
  }
  startRelay(s)
  await startWorker(s)
  const author = await apiCreateUser(app)
  const reader = await apiCreateUser(app)
  await apiFollow(app, reader.id, author.id)
  const post = await apiCreatePost(app, author.id, 'through the pipeline')
  await eventually('delivered into the follower timeline in Redis', async () => {
    return (await s.store.timelinePage(reader.id, 10))?.includes(post.id) ?? false
  })
  assert.equal(Number((await h.db.query('SELECT count(*) AS n FROM outbox')).rows[0].n), 0)
})
