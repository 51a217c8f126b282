/**
 * Builds the feed on real infrastructure for one test: an isolated Postgres schema with the
 * migrations applied (the replica sees it through streaming replication), a random Redis key
 * prefix, optionally a Kafka topic and consumer group of its own — all removed afterwards by
 * @faultline/testkit. The object graph is the one server.ts runs (createFeed + buildApp).
 *
 *   const h = await feedHarness(t)                  // schema + prefix (+ topic with { kafka: true })
 *   const { app } = await h.buildTestApp()          // one API instance; more calls = more instances
 *   const alice = await createUser(app)
 *
 * or in one step: `const { app, harness } = await buildTestApp(t, { mitigations: { hybridFanout: false } })`.
 */
import type { AddressInfo } from 'node:net'
import { createPgPool, createRedis } from '@faultline/kit/clients'
import type { Logger } from '@faultline/kit/logging'
import type { AfterHost, TestInfra } from '@faultline/testkit'
import { testInfra } from '@faultline/testkit'
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { buildApp } from '../src/app.ts'
import { createFeed, type Feed } from '../src/components.ts'
import { type Config, loadConfig } from '../src/config.ts'
import { Keys } from '../src/keys.ts'
import { runMigrations } from '../src/migrate.ts'
import type { Mitigations } from '../src/mitigations.ts'
import type { Post, User } from '../src/types.ts'

export const silentLog = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  fatal() {},
  child() {
    return silentLog
  },
} as unknown as Logger

export interface HarnessOptions {
  /** Kafka too: a fresh POSTS_TOPIC (created with `partitions`, default 3) and FANOUT_GROUP_ID. */
  kafka?: boolean | { partitions?: number }
  /** Extra environment for every instance of this harness. */
  env?: Record<string, string>
}

export interface TestAppOptions {
  /** Environment on top of the harness's, for this instance only. */
  env?: Record<string, string>
  /** Switches of this instance, on top of the defaults (all hardened). */
  mitigations?: Partial<Mitigations>
  /** Also listen on 127.0.0.1:0 and return `baseUrl` (default false: use `app.inject`). */
  listen?: boolean
}

export interface TestApp {
  app: FastifyInstance
  feed: Feed
  config: Config
  /** This instance's pools (search_path = the test schema) and Redis client. */
  primary: pg.Pool
  replica: pg.Pool
  redis: Redis
  /** `http://127.0.0.1:<port>` when built with `listen: true`. */
  baseUrl?: string
  /** Sum of the series of one of this instance's metrics, optionally only those matching `labels`. */
  metric(name: string, labels?: Record<string, string>): Promise<number>
}

export interface FeedHarness {
  infra: TestInfra
  schema: string
  /** A pool on the test schema on the primary, for seeding and assertions. */
  db: pg.Pool
  /** The environment every instance is built from (DATABASE_URL, DB_SCHEMA, REDIS_KEY_PREFIX, …). */
  env: Record<string, string>
  /** REDIS_KEY_PREFIX of this test, and the key builder on it (the same keys the service writes). */
  keyPrefix: string
  keys: Keys
  /** A Redis client for assertions (no key prefix: build keys with `keys`). */
  redis: Redis
  /** Set with `kafka`: the test's topic and consumer group. */
  topic?: string
  groupId?: string
  /** The Config an instance of this harness gets (env on top of the harness's). */
  config(env?: Record<string, string>): Config
  buildTestApp(options?: TestAppOptions): Promise<TestApp>
}

/** Infrastructure, schema, key prefix (and topic) for one test; instances come from `buildTestApp`. */
export async function feedHarness(t: AfterHost, options: HarnessOptions = {}): Promise<FeedHarness> {
  const infra = await testInfra(t, {
    need: options.kafka ? ['postgres', 'redis', 'kafka'] : ['postgres', 'redis'],
  })
  const { schema, pool: db } = await infra.schema()
  await runMigrations({ pool: db, schema })
  // testkit's prefix ends with ':'; the feed's Keys add their own separator.
  const keyPrefix = infra.keyPrefix().replace(/:$/, '')
  let topic: string | undefined
  let groupId: string | undefined
  if (options.kafka) {
    const partitions = typeof options.kafka === 'object' ? (options.kafka.partitions ?? 3) : 3
    topic = await infra.createTopic('feed-posts', partitions)
    groupId = `feed-fanout-${topic.split('.t').pop()}`
  }
  const env: Record<string, string> = {
    DATABASE_URL: infra.urls.databaseUrl,
    ...replicaUrlEnv(),
    DB_SCHEMA: schema,
    REDIS_URL: infra.urls.redisUrl,
    REDIS_KEY_PREFIX: keyPrefix,
    MIGRATE_ON_START: 'false',
    LOG_LEVEL: 'silent',
    ...(topic && groupId
      ? { KAFKA_BROKERS: infra.urls.kafkaBrokers.join(','), POSTS_TOPIC: topic, FANOUT_GROUP_ID: groupId }
      : {}),
    ...options.env,
  }
  const redis = createRedis(infra.urls.redisUrl, { name: 'feed-test-assert', log: silentLog })
  infra.defer(() => redis.disconnect())
  const h: FeedHarness = {
    infra,
    schema,
    db,
    env,
    keyPrefix,
    keys: new Keys(keyPrefix),
    redis,
    ...(topic ? { topic } : {}),
    ...(groupId ? { groupId } : {}),
    config: (extra = {}) => loadConfig({ ...env, ...extra }),
    buildTestApp: (o) => instance(h, o),
  }
  return h
}

/** The replica as the service reaches it by default (through Toxiproxy), unless the environment names one. */
function replicaUrlEnv(): Record<string, string> {
  const url = process.env.DATABASE_REPLICA_URL
  return url ? { DATABASE_REPLICA_URL: url } : {}
}

/** One API instance (its own pools, Redis client, metrics, single-flight maps) on the harness. */
async function instance(h: FeedHarness, o: TestAppOptions = {}): Promise<TestApp> {
  const loaded = h.config(o.env)
  const config: Config = { ...loaded, mitigations: { ...loaded.mitigations, ...o.mitigations } }
  const pool = (url: string, name: string, max: number) =>
    createPgPool(url, {
      max,
      searchPath: config.dbSchema,
      statementTimeoutMs: config.dbStatementTimeoutMs,
      connectionTimeoutMs: config.dbConnectTimeoutMs,
      applicationName: `feed-test-${name}`,
      log: silentLog,
    })
  const primary = pool(config.databaseUrl, 'primary', config.dbPoolMax)
  const replica = pool(config.replicaUrl, 'replica', config.replicaPoolMax)
  const redis = createRedis(config.redisUrl, {
    name: 'feed-test',
    commandTimeoutMs: 2000,
    log: silentLog,
  })
  h.infra.defer(async () => {
    redis.disconnect()
    await Promise.all([primary.end(), replica.end()])
  })
  const feed = createFeed(config, { primary, replica, redis, log: silentLog })
  const app = await buildApp(feed.appDeps)
  h.infra.defer(() => app.close())
  let baseUrl: string | undefined
  if (o.listen) {
    await app.listen({ host: '127.0.0.1', port: 0 })
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  } else {
    await app.ready()
  }
  return {
    app,
    feed,
    config,
    primary,
    replica,
    redis,
    ...(baseUrl ? { baseUrl } : {}),
    async metric(name, labels = {}) {
      const metric = feed.kitMetrics.registry.getSingleMetric(name)
      if (!metric) throw new Error(`no metric ${name}`)
      const { values } = await metric.get()
      return values
        .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
        .reduce((sum, v) => sum + v.value, 0)
    },
  }
}

/** A harness and one instance on it, in one call. */
export async function buildTestApp(
  t: AfterHost,
  overrides: HarnessOptions & TestAppOptions = {},
): Promise<TestApp & { harness: FeedHarness }> {
  const { kafka, env, ...appOptions } = overrides
  const harness = await feedHarness(t, { ...(kafka ? { kafka } : {}), ...(env ? { env } : {}) })
  return { ...(await harness.buildTestApp(appOptions)), harness }
}

// ── API shortcuts (they fail the test on an unexpected status) ───────────────

let handleSeq = 0

/** A handle no other test uses: `u<pid36><seq>` (≤ 30 characters). */
export function uniqueHandle(prefix = 'u'): string {
  handleSeq += 1
  return `${prefix}${process.pid.toString(36)}_${handleSeq}_${Math.floor(Math.random() * 1e6).toString(36)}`
}

async function expectStatus(
  app: FastifyInstance,
  request: { method: 'GET' | 'POST' | 'PUT' | 'DELETE'; url: string; payload?: object },
  status: number,
): Promise<unknown> {
  const res = await app.inject(request)
  if (res.statusCode !== status) {
    throw new Error(`${request.method} ${request.url} → ${res.statusCode} (want ${status}): ${res.body}`)
  }
  return res.body === '' ? undefined : res.json()
}

export async function createUser(app: FastifyInstance, handle = uniqueHandle()): Promise<User> {
  return (await expectStatus(app, { method: 'POST', url: '/api/users', payload: { handle } }, 201)) as User
}

export async function follow(app: FastifyInstance, followerId: string, targetId: string): Promise<void> {
  await expectStatus(app, { method: 'PUT', url: `/api/users/${followerId}/follows/${targetId}` }, 204)
}

export async function unfollow(app: FastifyInstance, followerId: string, targetId: string): Promise<void> {
  await expectStatus(app, { method: 'DELETE', url: `/api/users/${followerId}/follows/${targetId}` }, 204)
}

export async function createPost(app: FastifyInstance, authorId: string, text = 'hello'): Promise<Post> {
  return (await expectStatus(
    app,
    { method: 'POST', url: `/api/users/${authorId}/posts`, payload: { text } },
    201,
  )) as Post
}

export async function deletePost(app: FastifyInstance, postId: string): Promise<void> {
  await expectStatus(app, { method: 'DELETE', url: `/api/posts/${postId}` }, 204)
}

/** GET /api/users/:id/timeline: the status (200, 206, 404) and the body. */
export async function readTimeline(
  app: FastifyInstance,
  userId: string,
  query: { limit?: number; cursor?: string } = {},
): Promise<{ status: number; body: { items: Post[]; nextCursor: string | null } }> {
  const params = new URLSearchParams()
  if (query.limit !== undefined) params.set('limit', String(query.limit))
  if (query.cursor !== undefined) params.set('cursor', query.cursor)
  const qs = params.size > 0 ? `?${params}` : ''
  const res = await app.inject({ method: 'GET', url: `/api/users/${userId}/timeline${qs}` })
  return { status: res.statusCode, body: res.json() }
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
