import {
  ConfigError,
  envBoolean,
  envList,
  httpEnv,
  kafkaEnv,
  loadServiceEnv,
  type ProcessSettings,
  postgresEnv,
  processEnv,
  processSettings,
  redisEnv,
  replicaEnv,
  Type,
} from '@faultline/kit/config'
import { type Mitigations, switches } from './mitigations.ts'

export { ConfigError }

const int = (def: number, min: number, description: string, max?: number) =>
  Type.Integer({ default: def, minimum: min, ...(max === undefined ? {} : { maximum: max }), description })

/**
 * Every variable the feed's three processes read (API, outbox relay, fan-out worker; the switches
 * come on top: `MITIGATIONS` and `MITIGATION_<NAME>`, see mitigations.ts). Defaults connect to the
 * native topology through Toxiproxy, so with no environment at all it runs against
 * `./faultline infra up`.
 */
export const configSchema = Type.Object({
  ...httpEnv,
  ...postgresEnv,
  ...replicaEnv,
  ...redisEnv,
  ...kafkaEnv,
  ...processEnv,
  BODY_LIMIT_BYTES: int(16_384, 256, 'larger request bodies get 413', 10 * 1024 * 1024),
  DB_SCHEMA: Type.String({
    default: 'feed',
    pattern: '^[a-z_][a-z0-9_]{0,62}$',
    description: 'schema of the tables',
  }),
  DB_CONNECT_TIMEOUT_MS: int(2000, 1, 'wait for a pool connection at most this long'),
  REPLICA_POOL_MAX: int(10, 1, 'connections in the replica pool'),
  MIGRATE_ON_START: envBoolean(true, 'apply migrations at boot (advisory-locked, safe with many instances)'),
  REDIS_KEY_PREFIX: Type.String({
    default: 'feed',
    minLength: 1,
    description: 'first segment of every Redis key',
  }),
  REDIS_COMMAND_TIMEOUT_MS: int(500, 1, 'a Redis command slower than this fails'),
  KAFKA_CLIENT_ID: Type.String({ default: 'feed', minLength: 1 }),
  POSTS_TOPIC: Type.String({
    default: 'posts',
    minLength: 1,
    description: 'Kafka topic of post events, keyed by author',
  }),
  POSTS_TOPIC_PARTITIONS: int(6, 1, 'partitions when the service creates the topic'),
  FANOUT_GROUP_ID: Type.String({
    default: 'feed-fanout',
    minLength: 1,
    description: 'consumer group of the fan-out workers',
  }),
  TIMELINE_CAP: int(800, 1, 'ids kept per home timeline (Twitter keeps ≈800, Mastodon 400)', 100_000),
  AUTHOR_RECENT_CAP: int(
    200,
    1,
    "ids kept in an author's recent-posts set (read-time merge, follow merge)",
    100_000,
  ),
  TIMELINE_PAGE_DEFAULT: int(20, 1, 'items per page when ?limit is absent', 1000),
  TIMELINE_PAGE_MAX: int(100, 1, 'largest ?limit accepted', 1000),
  FANOUT_CELEBRITY_THRESHOLD: int(
    10_000,
    1,
    'authors with at least this many followers are pulled at read time instead of pushed (hybridFanout)',
  ),
  ACTIVE_WINDOW_S: int(
    7 * 86_400,
    1,
    'a timeline not read for this long expires; fan-out skips users without one (rebuilt on their return)',
  ),
  FANOUT_PIPELINE: int(1000, 1, 'timeline inserts per Redis pipeline', 100_000),
  FANOUT_BATCH_MAX: int(500, 1, 'Kafka messages a worker applies before it commits', 100_000),
  POST_CACHE_TTL_S: int(86_400, 1, "TTL of a cached post (and of a deleted post's tombstone)"),
  UNFOLLOW_GUARD_S: int(
    600,
    1,
    "how long fan-out refuses an author's posts to a user who unfollowed them (covers a worker that read its follower page before the unfollow)",
  ),
  CELEBRITY_CACHE_TTL_S: int(30, 0, "how long a user's followed-celebrity list is cached; 0 = not cached"),
  RYW_WINDOW_S: int(300, 1, "how long after a user's write their reads check the replica's replay position"),
  REPLICA_LSN_CACHE_MS: int(5, 0, "how long the replica's replayed LSN is reused before asking again"),
  REBUILD_CONCURRENCY: int(4, 1, 'timeline rebuilds at once per instance (rebuildAdmission)'),
  REBUILD_QUEUE: int(64, 0, 'rebuilds waiting for a slot (rebuildAdmission)'),
  REBUILD_WAIT_MS: int(
    1000,
    1,
    'longest a read waits for its rebuild before answering 206 (rebuildAdmission)',
  ),
  REBUILD_LEASE_MS: int(5000, 1, 'cross-instance rebuild lease (rebuildSingleFlight)'),
  REBUILD_STATEMENT_TIMEOUT_MS: int(
    5000,
    0,
    "statement_timeout of an admitted rebuild's query (rebuildAdmission): the bulkhead bounds rebuilds, and a rebuild cancelled at the read's timeout refills nothing; 0 = PG_STATEMENT_TIMEOUT_MS",
  ),
  RELAY_POLL_MS: int(20, 1, 'the relay polls the outbox this often when it found nothing'),
  RELAY_BATCH_MAX: int(500, 1, 'outbox rows published per Kafka send', 100_000),
  POST_TEXT_MAX: int(500, 1, 'longest post text, in characters', 100_000),
})

export type Env = Record<string, string | undefined>

/** The typed, derived settings the code uses (durations in ms, lists split, defaults resolved). */
export interface Config extends ProcessSettings {
  bodyLimitBytes: number

  databaseUrl: string
  replicaUrl: string
  dbSchema: string
  dbPoolMax: number
  replicaPoolMax: number
  dbConnectTimeoutMs: number
  dbStatementTimeoutMs: number
  migrateOnStart: boolean

  redisUrl: string
  redisKeyPrefix: string
  redisCommandTimeoutMs: number

  kafkaBrokers: string[]
  kafkaClientId: string
  postsTopic: string
  postsTopicPartitions: number
  fanoutGroupId: string

  timelineCap: number
  authorRecentCap: number
  pageDefault: number
  pageMax: number
  celebrityThreshold: number
  activeWindowMs: number
  fanoutPipeline: number
  fanoutBatchMax: number
  postCacheTtlMs: number
  celebrityCacheTtlMs: number
  unfollowGuardMs: number
  rywWindowMs: number
  replicaLsnCacheMs: number
  rebuildConcurrency: number
  rebuildQueue: number
  rebuildWaitMs: number
  rebuildLeaseMs: number
  rebuildStatementTimeoutMs: number
  relayPollMs: number
  relayBatchMax: number
  postTextMax: number

  mitigations: Mitigations
}

/** Reads and checks the environment once; throws one ConfigError listing every bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const { env: e, mitigations } = loadServiceEnv(configSchema, switches, env)
  return {
    ...processSettings(e),
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    databaseUrl: e.DATABASE_URL,
    replicaUrl: e.DATABASE_REPLICA_URL,
    dbSchema: e.DB_SCHEMA,
    dbPoolMax: e.PG_POOL_MAX,
    replicaPoolMax: e.REPLICA_POOL_MAX,
    dbConnectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
    dbStatementTimeoutMs: e.PG_STATEMENT_TIMEOUT_MS,
    migrateOnStart: e.MIGRATE_ON_START,
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    kafkaBrokers: envList(e.KAFKA_BROKERS),
    kafkaClientId: e.KAFKA_CLIENT_ID,
    postsTopic: e.POSTS_TOPIC,
    postsTopicPartitions: e.POSTS_TOPIC_PARTITIONS,
    fanoutGroupId: e.FANOUT_GROUP_ID,
    timelineCap: e.TIMELINE_CAP,
    authorRecentCap: e.AUTHOR_RECENT_CAP,
    pageDefault: Math.min(e.TIMELINE_PAGE_DEFAULT, e.TIMELINE_PAGE_MAX),
    pageMax: e.TIMELINE_PAGE_MAX,
    celebrityThreshold: e.FANOUT_CELEBRITY_THRESHOLD,
    activeWindowMs: e.ACTIVE_WINDOW_S * 1000,
    fanoutPipeline: e.FANOUT_PIPELINE,
    fanoutBatchMax: e.FANOUT_BATCH_MAX,
    postCacheTtlMs: e.POST_CACHE_TTL_S * 1000,
    celebrityCacheTtlMs: e.CELEBRITY_CACHE_TTL_S * 1000,
    unfollowGuardMs: e.UNFOLLOW_GUARD_S * 1000,
    rywWindowMs: e.RYW_WINDOW_S * 1000,
    replicaLsnCacheMs: e.REPLICA_LSN_CACHE_MS,
    rebuildConcurrency: e.REBUILD_CONCURRENCY,
    rebuildQueue: e.REBUILD_QUEUE,
    rebuildWaitMs: e.REBUILD_WAIT_MS,
    rebuildLeaseMs: e.REBUILD_LEASE_MS,
    rebuildStatementTimeoutMs: e.REBUILD_STATEMENT_TIMEOUT_MS,
    relayPollMs: e.RELAY_POLL_MS,
    relayBatchMax: e.RELAY_BATCH_MAX,
    postTextMax: e.POST_TEXT_MAX,
    mitigations,
  }
}
