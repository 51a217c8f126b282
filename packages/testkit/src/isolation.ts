/**
 * Per-test isolation on shared infrastructure, so test files (and tests) can run in parallel
 * against one Postgres, one Redis and one Kafka: a schema, a key prefix, a topic name, each random
 * and each with a cleanup that removes exactly what it names.
 */
import { randomBytes } from 'node:crypto'
import { escapeGlob, unlinkMatching } from '@faultline/infra'
import { Redis } from 'ioredis'
import { Kafka, logLevel } from 'kafkajs'
import pg from 'pg'

/** Lowercase hex, safe in schema names, Redis keys and Kafka topic names. */
export function randomId(bytes = 6): string {
  return randomBytes(bytes).toString('hex')
}

// ── Postgres ────────────────────────────────────────────────────────────────

export interface IsolatedSchema {
  /** `t_<random>`. */
  schema: string
  /** The database URL with `options=-c search_path=<schema>`: every connection made from it lands in the schema. */
  url: string
  /** Drops the schema and everything in it. */
  drop(): Promise<void>
}

/**
 * Returns `databaseUrl` with the session's search_path set through libpq's `options` startup
 * parameter, which pg (and so every pool built from the URL) sends on connect.
 */
export function withSearchPath(databaseUrl: string, schema: string): string {
  const url = new URL(databaseUrl)
  const existing = url.searchParams.get('options')
  const setting = `-c search_path=${schema}`
  url.searchParams.set('options', existing ? `${existing} ${setting}` : setting)
  return url.toString()
}

async function runAdmin(databaseUrl: string, statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl })
  client.on('error', () => {})
  await client.connect()
  try {
    for (const sql of statements) await client.query(sql)
  } finally {
    await client.end()
  }
}

/** Creates `t_<random>` in the database at `databaseUrl`. */
export async function isolatedSchema(databaseUrl: string): Promise<IsolatedSchema> {
  const schema = `t_${randomId()}`
  await runAdmin(databaseUrl, [`create schema "${schema}"`])
  return {
    schema,
    url: withSearchPath(databaseUrl, schema),
    // lock_timeout: a session still inside a transaction on the schema makes the drop fail
    // loudly instead of hanging the test run.
    drop: () =>
      runAdmin(databaseUrl, ["set lock_timeout = '10s'", `drop schema if exists "${schema}" cascade`]),
  }
}

// ── Redis ───────────────────────────────────────────────────────────────────

/**
 * `t:<random>:` — give it to ioredis as `keyPrefix` (or to BullMQ as `prefix`, without the
 * trailing colon) so every key the code under test writes can be found and deleted afterwards.
 */
export function keyPrefix(): string {
  return `t:${randomId()}:`
}

/**
 * Deletes every key starting with `prefix` (SCAN + UNLINK, never KEYS) and returns how many.
 * Uses its own client without a keyPrefix: ioredis does not apply keyPrefix to SCAN patterns.
 */
export async function deleteKeysWithPrefix(redisUrl: string, prefix: string): Promise<number> {
  if (prefix.length === 0) throw new Error('refusing to delete every key: empty prefix')
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  try {
    await client.connect()
    return await unlinkMatching(client, `${escapeGlob(prefix)}*`)
  } finally {
    client.disconnect()
  }
}

// ── Kafka ───────────────────────────────────────────────────────────────────

/** `<base>.t<random>`: legal as a topic name (letters, digits, `.`, `_`, `-`) and unique per call. */
export function uniqueTopic(base: string): string {
  return `${base}.t${randomId()}`
}

function kafkaAdmin(brokers: string[]) {
  return new Kafka({
    clientId: 'faultline-testkit',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 3 },
  }).admin()
}

export async function createTopic(brokers: string[], topic: string, numPartitions = 1): Promise<void> {
  const admin = kafkaAdmin(brokers)
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true })
  } finally {
    await admin.disconnect()
  }
}

/** Deletes the topics that exist among `topics`; a name never created is not an error. */
export async function deleteTopics(brokers: string[], topics: string[]): Promise<void> {
  const admin = kafkaAdmin(brokers)
  await admin.connect()
  try {
    const existing = new Set(await admin.listTopics())
    const present = topics.filter((t) => existing.has(t))
    if (present.length > 0) await admin.deleteTopics({ topics: present })
  } finally {
    await admin.disconnect()
  }
}
