/**
 * Builds the shortener on real infrastructure for one test: an isolated Postgres schema with
 * the migrations applied, a Redis key prefix, optionally a Kafka topic — all removed afterwards
 * by @faultline/testkit. The object graph is the one server.ts runs (createShortener).
 */
import { createPgPool, createRedis } from '@faultline/kit/clients'
import type { Logger } from '@faultline/kit/logging'
import type { AfterHost, TestInfra } from '@faultline/testkit'
import { testInfra } from '@faultline/testkit'
import type { FastifyInstance } from 'fastify'
import type pg from 'pg'
import { buildApp } from '../src/app.ts'
import type { SendClicks } from '../src/clicks/recorder.ts'
import type { ClickEvent } from '../src/clicks/spool.ts'
import { createShortener, type Shortener } from '../src/components.ts'
import { type Config, loadConfig } from '../src/config.ts'
import { runMigrations } from '../src/migrate.ts'

export const silentLog = {
  info() {},
  warn() {},
  error() {},
  debug() {},
  child() {
    return silentLog
  },
} as unknown as Logger

export interface Harness {
  infra: TestInfra
  schema: string
  /** A pool on the test schema, for assertions and seeding. */
  db: pg.Pool
  env: Record<string, string>
}

export interface Instance {
  app: FastifyInstance
  shortener: Shortener
  config: Config
  pool: pg.Pool
  /** Sum of every series of a metric of this instance. */
  metric(name: string): Promise<number>
}

/** Infrastructure + schema + key prefix for one test; instances are added with `instance()`. */
export async function harness(
  t: AfterHost,
  options: { kafka?: boolean; env?: Record<string, string> } = {},
): Promise<Harness & { instance(o?: InstanceOptions): Promise<Instance> }> {
  const infra = await testInfra(t, {
    need: options.kafka ? ['postgres', 'redis', 'kafka'] : ['postgres', 'redis'],
  })
  const { schema, url, pool: db } = await infra.schema()
  await runMigrations({ pool: db, schema })
  const env: Record<string, string> = {
    DATABASE_URL: url,
    DB_SCHEMA: schema,
    REDIS_URL: infra.urls.redisUrl,
    REDIS_KEY_PREFIX: infra.keyPrefix(),
    MIGRATE_ON_START: 'false',
    PUBLIC_BASE_URL: 'http://sho.rt.test',
    ...(options.kafka ? { KAFKA_BROKERS: infra.urls.kafkaBrokers.join(',') } : {}),
    ...options.env,
  }
  const h: Harness = { infra, schema, db, env }
  return { ...h, instance: (o) => instance(h, o) }
}

export interface InstanceOptions {
  env?: Record<string, string>
  /** Where click batches go; by default they are collected in `sent`. */
  sendClicks?: SendClicks
  sent?: ClickEvent[]
  /** Wait until Redis answers before returning (default true; false to test a Redis outage). */
  waitForRedis?: boolean
}

/** One shortener instance (its own pool, Redis client, allocator, single-flight map). */
export async function instance(h: Harness, o: InstanceOptions = {}): Promise<Instance> {
  const config = loadConfig({ ...h.env, ...o.env })
  const pool = createPgPool(config.databaseUrl, {
    max: config.dbPoolMax,
    searchPath: config.dbSchema,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    connectionTimeoutMs: config.dbConnectTimeoutMs,
    applicationName: 'shortener-test',
    log: silentLog,
  })
  const redis = createRedis(config.redisUrl, {
    name: 'shortener-test',
    commandTimeoutMs: 2000,
    enableOfflineQueue: false,
    log: silentLog,
  })
  h.infra.defer(async () => {
    redis.disconnect()
    await pool.end()
  })
  if (o.waitForRedis ?? true) {
    await new Promise<void>((resolve, reject) => {
      redis.once('ready', resolve)
      redis.once('error', reject)
    })
  }
  const sent = o.sent ?? []
  const sendClicks: SendClicks =
    o.sendClicks ??
    (async (events) => {
      sent.push(...events)
    })
  const shortener = createShortener(config, { pool, redis, sendClicks, log: silentLog })
  const app = await buildApp(shortener.appDeps)
  shortener.recorder.start()
  h.infra.defer(async () => {
    await app.close()
    await shortener.recorder.stop(1000)
  })
  return {
    app,
    shortener,
    config,
    pool,
    async metric(name) {
      const metric = shortener.kitMetrics.registry.getSingleMetric(name)
      if (!metric) throw new Error(`no metric ${name}`)
      const { values } = await metric.get()
      return values.reduce((sum, v) => sum + v.value, 0)
    },
  }
}

export async function createLink(app: FastifyInstance, body: Record<string, unknown>) {
  const res = await app.inject({ method: 'POST', url: '/api/links', payload: body })
  return { status: res.statusCode, body: res.json() as Record<string, unknown> }
}

/** Polls `fn` until it returns true, up to `timeoutMs` (then fails with `what`). */
export async function eventually(
  what: string,
  fn: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await fn()) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
