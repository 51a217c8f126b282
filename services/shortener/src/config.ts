import {
  ConfigError,
  envBoolean,
  envList,
  httpEnv,
  kafkaEnv,
  loadServiceEnv,
  type ProcessSettings,
  postgresEnv,
  processSettings,
  redisEnv,
  Type,
} from '@faultline/kit/config'
import { type Mitigations, switches } from './mitigations.ts'

export { ConfigError }

const int = (def: number, min: number, description: string, max?: number) =>
  Type.Integer({ default: def, minimum: min, ...(max === undefined ? {} : { maximum: max }), description })

/**
 * Every variable the shortener reads (the mitigation switches come on top: `MITIGATIONS` and
 * `MITIGATION_<NAME>`, see mitigations.ts). Defaults connect to the native topology through
 * Toxiproxy, so with no environment at all the service runs against `./faultline infra up`.
 */
export const configSchema = Type.Object({
  ...httpEnv,
  ...postgresEnv,
  ...redisEnv,
  ...kafkaEnv,
  INSTANCE_ID: Type.String({
    default: '',
    description: 'name in logs and metrics; default <hostname>-<pid>',
  }),
  PUBLIC_BASE_URL: Type.String({
    default: '',
    description: 'prefix of short URLs; default http://HOST:PORT',
  }),
  LOG_REQUESTS: envBoolean(false, 'log every request (costly under load)'),
  DB_SCHEMA: Type.String({
    default: 'shortener',
    pattern: '^[a-z_][a-z0-9_]{0,62}$',
    description: 'schema of the tables',
  }),
  DB_CONNECT_TIMEOUT_MS: int(2000, 1, 'wait for a pool connection at most this long'),
  MIGRATE_ON_START: envBoolean(true, 'apply migrations at boot (advisory-locked, safe with many instances)'),
  MIGRATE_LOCK_TIMEOUT_MS: int(
    200,
    0,
    'lock_timeout of each migration attempt while migrationLockTimeout is on, then retried; 0 = none (pm13)',
  ),
  MIGRATE_RETRIES: int(10, 0, 'attempts after a lock_timeout'),
  REDIS_KEY_PREFIX: Type.String({ default: '', description: 'prepended to every key (tests)' }),
  REDIS_COMMAND_TIMEOUT_MS: int(250, 1, 'a cache command slower than this counts as a miss'),
  KAFKA_CLIENT_ID: Type.String({ default: 'shortener', minLength: 1 }),
  CLICKS_TOPIC: Type.String({ default: 'clicks', minLength: 1 }),
  CLICKS_TOPIC_PARTITIONS: int(3, 1, 'partitions when the service creates the topic'),
  CLICKS_GROUP_ID: Type.String({ default: 'shortener-clicks', minLength: 1 }),
  REDIRECT_STATUS: Type.Union([Type.Literal(301), Type.Literal(302)], { default: 302 }),
  REDIRECT_MAX_AGE_S: int(86_400, 0, 'Cache-Control max-age of a 301 (capped by the link expiry)'),
  BODY_LIMIT_BYTES: int(16_384, 256, 'larger request bodies get 413', 10 * 1024 * 1024),
  ADMIN_TOKEN: Type.String({ default: '', description: 'bearer token for /admin/*; empty = open' }),
  CODE_SECRET: Type.String({
    default: 'faultline-dev-secret',
    minLength: 1,
    description: 'scramble key; fixed per deployment',
  }),
  CODE_BITS: Type.Integer({
    default: 40,
    minimum: 8,
    maximum: 52,
    multipleOf: 2,
    description: 'id space 2^bits',
  }),
  ID_BLOCK_SIZE: int(1000, 1, 'ids leased from Postgres at a time', 10_000_000),
  CACHE_TTL_S: int(3600, 1, 'soft TTL of a cached link'),
  CACHE_TTL_JITTER: Type.Number({
    default: 0.1,
    minimum: 0,
    maximum: 0.9,
    description: '±fraction (ttlJitter)',
  }),
  LOCAL_CACHE_TTL_MS: int(
    1000,
    0,
    'how long this process serves a link from its own memory before asking Redis again; 0 = off',
    3_600_000,
  ),
  LOCAL_CACHE_MAX: int(10_000, 1, 'links kept in memory per process (oldest out first)'),
  NEGATIVE_CACHE_TTL_S: int(30, 1, 'TTL of a cached "unknown code" (negativeCache)'),
  CACHE_STALE_S: int(60, 0, 'how long past its soft TTL an entry may be served (staleWhileRevalidate)'),
  FILL_LEASE_MS: int(2000, 0, 'cross-instance fill lease (singleFlight); 0 = per process only'),
  FILL_WAIT_MS: int(
    1000,
    0,
    'how long a non-leaseholder waits for the leaseholder to fill the cache before reading Postgres itself',
  ),
  FILL_TIMEOUT_MS: int(
    0,
    0,
    'a cache fill (queueing + query) gives up after this long: 503, row not cached; 0 = never',
  ),
  COLD_PATH_CONCURRENCY: int(8, 1, 'Postgres fills at once (coldPathLimit)'),
  COLD_PATH_QUEUE: int(64, 0, 'fills waiting for a slot (coldPathLimit)'),
  COLD_PATH_WAIT_MS: int(250, 1, 'longest wait for a slot before 503 (coldPathLimit)'),
  READINESS_DB_TIMEOUT_MS: int(500, 1, 'Postgres readiness check timeout (readinessIndependentOfDeps off)'),
  CLICK_SPOOL_MAX: int(100_000, 1, 'click events held while Kafka is away'),
  CLICK_SPOOL_DIR: Type.String({
    default: '',
    description: 'durable spool: append events under <dir>/<INSTANCE_ID>; empty = in memory only',
  }),
  CLICK_BATCH_MAX: int(5000, 1, 'click events per Kafka message', 100_000),
  CLICK_FLUSH_INTERVAL_MS: int(
    200,
    1,
    'how long a partial batch waits for more events before it is published',
  ),
  CLICK_SHUTDOWN_FLUSH_MS: int(
    3000,
    0,
    'on shutdown, publish the spool for at most this long (then count the rest dropped)',
  ),
  CLICK_DEDUPE_RETENTION_H: int(168, 1, "how long the worker remembers a quiet recorder's watermark"),
  WORKER_METRICS_PORT: int(
    0,
    0,
    'worker: the older name of its PORT, used when PORT is unset; 0 = unset',
    65_535,
  ),
})

/** The typed, derived settings the code uses (durations in ms, lists split, defaults resolved). */
export interface Config extends ProcessSettings {
  publicBaseUrl: string

  databaseUrl: string
  dbSchema: string
  dbPoolMax: number
  dbConnectTimeoutMs: number
  dbStatementTimeoutMs: number
  migrateOnStart: boolean
  migrateLockTimeoutMs: number
  migrateRetries: number

  redisUrl: string
  redisKeyPrefix: string
  redisCommandTimeoutMs: number

  kafkaBrokers: string[]
  kafkaClientId: string
  clicksTopic: string
  clicksTopicPartitions: number
  clicksGroupId: string

  redirectStatus: 301 | 302
  redirectMaxAgeS: number
  bodyLimitBytes: number

  codeSecret: string
  codeBits: number
  idBlockSize: number

  cacheTtlMs: number
  cacheTtlJitter: number
  negativeCacheTtlMs: number
  /** LOCAL_CACHE_TTL_MS: the per-process tier (local-link-cache.ts); 0 = off. */
  localCacheTtlMs: number
  localCacheMax: number
  cacheStaleMs: number
  fillLeaseMs: number
  fillWaitMs: number
  fillTimeoutMs: number
  coldPathConcurrency: number
  coldPathQueue: number
  coldPathWaitMs: number
  readinessDbTimeoutMs: number

  clickSpoolMax: number
  clickSpoolDir: string | undefined
  clickBatchMax: number
  clickFlushIntervalMs: number
  clickShutdownFlushMs: number
  clickDedupeRetentionMs: number
  /**
   * Where the worker serves /healthz, /readyz, /metrics and /admin/mitigations: `PORT` when set
   * (the lab and compose set it), else `WORKER_METRICS_PORT`, else 3001.
   */
  workerPort: number

  mitigations: Mitigations
}

/**
 * A worker started by hand next to the API (both with no env) must not take the API's default
 * 3000, so its own default is the next port; PORT wins whenever it is given.
 */
export const defaultWorkerPort = 3001

function workerPort(env: Record<string, string | undefined>, port: number, legacyPort: number): number {
  if (env.PORT !== undefined && env.PORT.trim() !== '') return port
  return legacyPort > 0 ? legacyPort : defaultWorkerPort
}

/** Reads and checks the environment once; throws one ConfigError listing every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const { env: e, mitigations } = loadServiceEnv(configSchema, switches, env)
  const listenHost = e.HOST === '0.0.0.0' || e.HOST === '::' ? '127.0.0.1' : e.HOST
  return {
    ...processSettings(e),
    publicBaseUrl: (e.PUBLIC_BASE_URL || `http://${listenHost}:${e.PORT}`).replace(/\/+$/, ''),
    databaseUrl: e.DATABASE_URL,
    dbSchema: e.DB_SCHEMA,
    dbPoolMax: e.PG_POOL_MAX,
    dbConnectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
    dbStatementTimeoutMs: e.PG_STATEMENT_TIMEOUT_MS,
    migrateOnStart: e.MIGRATE_ON_START,
    migrateLockTimeoutMs: e.MIGRATE_LOCK_TIMEOUT_MS,
    migrateRetries: e.MIGRATE_RETRIES,
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    kafkaBrokers: envList(e.KAFKA_BROKERS),
    kafkaClientId: e.KAFKA_CLIENT_ID,
    clicksTopic: e.CLICKS_TOPIC,
    clicksTopicPartitions: e.CLICKS_TOPIC_PARTITIONS,
    clicksGroupId: e.CLICKS_GROUP_ID,
    redirectStatus: e.REDIRECT_STATUS,
    redirectMaxAgeS: e.REDIRECT_MAX_AGE_S,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    codeSecret: e.CODE_SECRET,
    codeBits: e.CODE_BITS,
    idBlockSize: e.ID_BLOCK_SIZE,
    cacheTtlMs: e.CACHE_TTL_S * 1000,
    cacheTtlJitter: e.CACHE_TTL_JITTER,
    negativeCacheTtlMs: e.NEGATIVE_CACHE_TTL_S * 1000,
    localCacheTtlMs: e.LOCAL_CACHE_TTL_MS,
    localCacheMax: e.LOCAL_CACHE_MAX,
    cacheStaleMs: e.CACHE_STALE_S * 1000,
    fillLeaseMs: e.FILL_LEASE_MS,
    fillWaitMs: e.FILL_WAIT_MS,
    fillTimeoutMs: e.FILL_TIMEOUT_MS,
    coldPathConcurrency: e.COLD_PATH_CONCURRENCY,
    coldPathQueue: e.COLD_PATH_QUEUE,
    coldPathWaitMs: e.COLD_PATH_WAIT_MS,
    readinessDbTimeoutMs: e.READINESS_DB_TIMEOUT_MS,
    clickSpoolMax: e.CLICK_SPOOL_MAX,
    clickSpoolDir: e.CLICK_SPOOL_DIR || undefined,
    clickBatchMax: e.CLICK_BATCH_MAX,
    clickFlushIntervalMs: e.CLICK_FLUSH_INTERVAL_MS,
    clickShutdownFlushMs: e.CLICK_SHUTDOWN_FLUSH_MS,
    clickDedupeRetentionMs: e.CLICK_DEDUPE_RETENTION_H * 3_600_000,
    workerPort: workerPort(env, e.PORT, e.WORKER_METRICS_PORT),
    mitigations,
  }
}
