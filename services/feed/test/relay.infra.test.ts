// The outbox relay on real Postgres and Kafka (each test: its own schema, topic, consumer group):
// committed rows are published as stored and deleted, rolled-back ones never; one relay leads and
// a standby takes over when the leader's process dies; Kafka and Postgres outages lose nothing.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ports, proxies } from '@faultline/infra'
import { createKafka, disconnectProducer, getProducer } from '@faultline/kit/clients'
import { OutboxRelay } from '@faultline/kit/outbox-relay'
import { connectRelaySession, outboxRelayLockName } from '@faultline/kit/outbox-relay-process'
import type { AfterHost, TestInfra } from '@faultline/testkit'
import { randomId, testInfra } from '@faultline/testkit'
import { ToxiproxyClient } from '@faultline/toxiproxy'
import type { Consumer } from 'kafkajs'
import type pg from 'pg'
import { type Config, loadConfig } from '../src/config.ts'
import { runMigrations } from '../src/migrate.ts'

const relayEntry = fileURLToPath(new URL('../src/relay.ts', import.meta.url))

interface Setup {
  infra: TestInfra
  db: pg.Pool
  schema: string
  topic: string
  env: Record<string, string>
  config: Config
}

async function setup(t: AfterHost): Promise<Setup> {
  const infra = await testInfra(t, { need: ['postgres', 'kafka'] })
  const { schema, pool: db } = await infra.schema()
  // The outage test drops every connection through the Postgres proxy: idle ones must not crash the run.
  db.on('error', () => {})
  await runMigrations({ pool: db, schema })
  const topic = await infra.createTopic('feed-posts', 1)
  const env = {
    DATABASE_URL: infra.urls.databaseUrl,
    DB_SCHEMA: schema,
    KAFKA_BROKERS: infra.urls.kafkaBrokers.join(','),
    POSTS_TOPIC: topic,
    MIGRATE_ON_START: 'false',
    LOG_LEVEL: 'warn',
  }
  return { infra, db, schema, topic, env, config: loadConfig(env) }
}

interface RelayCounts {
  published: number
  publishFailures: number
  standbyLogs: number
}

/** An in-process relay as relay.ts wires it (its own Kafka client and producer); stopped at cleanup. */
function startRelay(s: Setup, name: string) {
  const kafka = createKafka({ brokers: s.infra.urls.kafkaBrokers, clientId: `relay-${name}-${randomId()}` })
  const counts: RelayCounts = { published: 0, publishFailures: 0, standbyLogs: 0 }
  const relay = new OutboxRelay({
    connect: () => connectRelaySession(s.config, `feed-relay-${name}`),
    publish: async (messages) => {
      const producer = await getProducer(kafka, { idempotent: true, maxInFlightRequests: 1 })
      await producer.send({ topic: s.topic, acks: -1, messages })
    },
    lockName: outboxRelayLockName('feed', s.schema),
    batchMax: 50,
    pollMs: 20,
    standbyRetryMs: 100,
    retryBaseMs: 50,
    retryCapMs: 500,
    metrics: {
      published: (n) => {
        counts.published += n
      },
      publishFailed: () => {
        counts.publishFailures += 1
      },
      leader: () => {},
    },
    log: {
      info: (_obj, msg) => {
        if (msg.includes('standing by')) counts.standbyLogs += 1
      },
      warn: () => {},
    },
  })
  const stop = new AbortController()
  const running = relay.run(stop.signal)
  s.infra.defer(async () => {
    stop.abort()
    await running
    await disconnectProducer(kafka)
  })
  return { relay, counts }
}

interface Received {
  key: string
  value: Record<string, unknown>
}

/**
 * Every message of the test's topic, in order, as a fresh consumer group reads it (through
 * `brokers`: the outage test observes around the proxy it disables).
 */
async function collect(s: Setup, brokers = s.infra.urls.kafkaBrokers): Promise<Received[]> {
  const kafka = createKafka({ brokers, clientId: `collect-${randomId()}` })
  const consumer: Consumer = kafka.consumer({
    groupId: `collect-${randomId()}`,
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 2000 },
  })
  const received: Received[] = []
  await consumer.connect()
  s.infra.defer(() => consumer.disconnect())
  await consumer.subscribe({ topic: s.topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      received.push({ key: String(message.key), value: JSON.parse(String(message.value)) })
    },
  })
  return received
}

interface Stored {
  id: string
  key: string
  payload: Record<string, unknown>
}

/** A post and its outbox row in one transaction, as the API writes them; rolled back on request. */
async function writePost(db: pg.Pool, authorId: string, text: string, rollback = false): Promise<Stored> {
  const client = await db.connect()
  try {
    await client.query('BEGIN')
    const post = await client.query<{ id: string }>(
      `INSERT INTO posts (id, author_id, text, created_at)
       VALUES (post_id_at(clock_timestamp()), $1, $2, date_trunc('milliseconds', clock_timestamp()))
       RETURNING id::text`,
      [authorId, text],
    )
    const postId = post.rows[0]?.id ?? ''
    const payload = { type: 'post_created', postId, authorId, createdAtMs: Date.now() }
    const row = await client.query<{ id: string }>(
      'INSERT INTO outbox (key, payload) VALUES ($1, $2) RETURNING id::text',
      [authorId, JSON.stringify(payload)],
    )
    await client.query(rollback ? 'ROLLBACK' : 'COMMIT')
    return { id: row.rows[0]?.id ?? '', key: authorId, payload }
  } finally {
    client.release()
  }
}

async function createAuthor(db: pg.Pool): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    'INSERT INTO users (handle) VALUES ($1) RETURNING id::text',
    [`a${randomId()}`],
  )
  return rows[0]?.id ?? ''
}

async function outboxRows(db: pg.Pool): Promise<number> {
  return Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM outbox')).rows[0]?.n)
}

async function eventually(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const expected = (rows: Stored[]): Received[] =>
  rows.map((r) => ({ key: r.key, value: { ...r.payload, outboxId: r.id } }))

test('committed rows are published as stored, in order, then deleted; a rolled-back one never', async (t) => {
  const s = await setup(t)
  const received = await collect(s)
  const author = await createAuthor(s.db)
  // A backlog written before the relay starts, then rows while it runs.
  const committed = [await writePost(s.db, author, 'one'), await writePost(s.db, author, 'two')]
  const { counts } = startRelay(s, 'only')
  committed.push(await writePost(s.db, author, 'three'))
  const rolledBack = await writePost(s.db, author, 'never', true)
  // The marker commits after the rollback: once it arrived, anything before it in the outbox did.
  const marker = await writePost(s.db, author, 'marker')
  committed.push(marker)

  await eventually('the marker was published', () => received.some((m) => m.value.outboxId === marker.id))
  assert.deepEqual(received, expected(committed))
  assert.ok(!received.some((m) => m.value.postId === rolledBack.payload.postId))
  await eventually('the outbox is empty', async () => (await outboxRows(s.db)) === 0)
  assert.equal(counts.published, committed.length)
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

async function scrape(url: string): Promise<string> {
  try {
    return await (await fetch(url, { signal: AbortSignal.timeout(2000) })).text()
  } catch {
    return ''
  }
}

function sample(text: string, name: string): number {
  const m = text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm'))
  return m ? Number(m[1]) : Number.NaN
}

/** relay.ts as its own process (the lab's way), killed with SIGKILL at cleanup if still running. */
async function spawnRelay(s: Setup): Promise<{ child: ChildProcess; metricsUrl: string; logs: string[] }> {
  const port = await freePort()
  const logs: string[] = []
  const child = spawn(process.execPath, [relayEntry], {
    env: { ...s.env, PATH: process.env.PATH ?? '', PORT: String(port), INSTANCE_ID: 'relay-child' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout?.on('data', (b: Buffer) => logs.push(String(b)))
  child.stderr?.on('data', (b: Buffer) => logs.push(String(b)))
  const exited = once(child, 'exit')
  s.infra.defer(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  return { child, metricsUrl: `http://127.0.0.1:${port}/metrics`, logs }
}

test('a second relay stands by while the leader lives and takes over when its process dies', async (t) => {
  const s = await setup(t)
  const received = await collect(s)
  const author = await createAuthor(s.db)
  const leader = await spawnRelay(s)
  await eventually(
    'the relay process leads',
    async () => sample(await scrape(leader.metricsUrl), 'feed_relay_leader') === 1,
  ).catch((err: Error) => assert.fail(`${err.message}\n${leader.logs.join('').slice(-3000)}`))

  const standby = startRelay(s, 'standby')
  await eventually('the second relay found the lock taken', () => standby.counts.standbyLogs > 0)
  const first = await writePost(s.db, author, 'while the leader lives')
  await eventually('published by the leader', () => received.length === 1)
  assert.equal(standby.relay.leading, false)
  assert.equal(standby.counts.published, 0, 'the standby published nothing')
  assert.equal(sample(await scrape(leader.metricsUrl), 'feed_outbox_published_total'), 1)

  const exited = once(leader.child, 'exit')
  leader.child.kill('SIGKILL')
  await exited
  await eventually('the standby took over', () => standby.relay.leading)
  const second = await writePost(s.db, author, 'after the takeover')
  await eventually('published by the new leader', () => received.length >= 2)
  assert.deepEqual(received, expected([first, second]))
  assert.equal(standby.counts.published, 1)
})

test('Kafka and Postgres outages delay the outbox but lose nothing', async (t) => {
  const s = await setup(t)
  let toxiproxy: ToxiproxyClient
  try {
    toxiproxy = new ToxiproxyClient({ url: s.infra.urls.toxiproxyUrl })
  } catch {
    return t.skip('no Toxiproxy in front of Kafka and Postgres (run on the native topology)')
  }
  // The proxies are shared: whatever happens, they come back.
  s.infra.defer(() => toxiproxy.enableProxy(proxies.kafka.name))
  s.infra.defer(() => toxiproxy.enableProxy(proxies.postgres.name))
  const received = await collect(s, [`127.0.0.1:${ports.kafkaDirect}`])
  const author = await createAuthor(s.db)
  const { relay, counts } = startRelay(s, 'outage')
  const written: Stored[] = []
  for (let i = 0; i < 5; i++) written.push(await writePost(s.db, author, `before ${i}`))
  await eventually('the first rows were published', async () => (await outboxRows(s.db)) === 0)

  await toxiproxy.disableProxy(proxies.kafka.name)
  for (let i = 0; i < 5; i++) written.push(await writePost(s.db, author, `kafka down ${i}`))
  await eventually('a send failed while Kafka is down', () => counts.publishFailures > 0)
  assert.equal(await outboxRows(s.db), 5, 'no row is deleted before Kafka acknowledged it')
  await toxiproxy.enableProxy(proxies.kafka.name)
  await eventually('the rows written during the Kafka outage were published', async () => {
    return (await outboxRows(s.db)) === 0
  })

  await toxiproxy.disableProxy(proxies.postgres.name)
  await eventually('the relay lost its session and with it the lead', () => !relay.leading)
  await toxiproxy.enableProxy(proxies.postgres.name)
  for (let i = 0; i < 5; i++) written.push(await writePost(s.db, author, `after postgres ${i}`))
  await eventually('everything was published', () => {
    const ids = new Set(received.map((m) => m.value.outboxId))
    return written.every((w) => ids.has(w.id))
  })
  // At least once, in order: each row's first appearance follows the outbox order.
  const firstSeen = [...new Set(received.map((m) => String(m.value.outboxId)))]
  assert.deepEqual(
    firstSeen,
    written.map((w) => w.id),
    JSON.stringify(received.map((m) => m.value.outboxId)),
  )
  assert.ok(relay.leading)
  assert.equal(await outboxRows(s.db), 0)
})

test('the relay process serves its probes and switches, and on SIGTERM exits 0 and frees the lead', async (t) => {
  const s = await setup(t)
  const proc = await spawnRelay(s)
  const base = proc.metricsUrl.replace(/\/metrics$/, '')
  const why = () => proc.logs.join('').slice(-3000)
  await eventually(
    'the relay process leads',
    async () => sample(await scrape(proc.metricsUrl), 'feed_relay_leader') === 1,
  ).catch((err: Error) => assert.fail(`${err.message}\n${why()}`))
  assert.equal((await fetch(`${base}/readyz`)).status, 200)
  assert.equal((await fetch(`${base}/healthz`)).status, 200)
  const switches = (await (await fetch(`${base}/admin/mitigations`)).json()) as Record<string, boolean>
  assert.equal(switches.commitAfterFanout, true)
  assert.equal(sample(await scrape(proc.metricsUrl), 'feed_outbox_backlog'), 0)

  const exited = once(proc.child, 'exit') as Promise<[number | null, string | null]>
  proc.child.kill('SIGTERM')
  const [code, signal] = await exited
  assert.equal(signal, null, why())
  assert.equal(code, 0, why())
  const next = startRelay(s, 'next')
  await eventually('another relay leads at once', () => next.relay.leading)
})
