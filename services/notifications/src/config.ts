import { systemPorts } from '@faultline/infra'
import {
  ConfigError,
  type ConfigIssue,
  envBoolean,
  envList,
  httpEnv,
  kafkaEnv,
  loadServiceEnv,
  type ProcessSettings,
  postgresEnv,
  processEnv,
  processSettings,
  queueRedisEnv,
  redisEnv,
  Type,
} from '@faultline/kit/config'
import { type Mitigations, switches } from './mitigations.ts'
import { type Knobs, parseProviderKnobs } from './providers/knobs.ts'
import { type Channel, channels } from './types.ts'

export { ConfigError }

const int = (def: number, min: number, description: string, max?: number) =>
  Type.Integer({ default: def, minimum: min, ...(max === undefined ? {} : { maximum: max }), description })

const providersBase = `http://127.0.0.1:${systemPorts.notifications.providers}`
const providerUrl = (name: string, description: string) =>
  Type.String({ format: 'uri', default: `${providersBase}/${name}`, description })

/**
 * Every variable the notification service's processes read (API, relay, router, channel worker,
 * the providers' server; the switches come on top: `MITIGATIONS` and `MITIGATION_<NAME>`, see
 * mitigations.ts). Defaults connect to the native topology through Toxiproxy and to the project's
 * own providers, so with no environment at all it runs against `./faultline infra up`.
 */
export const configSchema = Type.Object({
  ...httpEnv,
  ...postgresEnv,
  ...redisEnv,
  ...queueRedisEnv,
  ...kafkaEnv,
  ...processEnv,
  DB_SCHEMA: Type.String({
    default: 'notifications',
    pattern: '^[a-z_][a-z0-9_]{0,62}$',
    description: 'schema of the tables',
  }),
  DB_CONNECT_TIMEOUT_MS: int(2000, 1, 'wait for a pool connection at most this long'),
  MIGRATE_ON_START: envBoolean(true, 'apply migrations at boot (advisory-locked, safe with many instances)'),
  REDIS_KEY_PREFIX: Type.String({
    default: 'ntf',
    pattern: '^[A-Za-z0-9_:.-]{1,64}$',
    description: 'first segment of every cache Redis key (idempotency markers, rate limits)',
  }),
  REDIS_COMMAND_TIMEOUT_MS: int(500, 1, 'a Redis command slower than this fails'),
  QUEUE_PREFIX: Type.String({
    default: 'ntf',
    pattern: '^[A-Za-z0-9_:.-]{1,64}$',
    description:
      "BullMQ's key prefix on the queue Redis (queues ntf-email, ntf-sms, ntf-push, ntf-webhook, ntf-dead)",
  }),
  KAFKA_CLIENT_ID: Type.String({ default: 'notifications', minLength: 1 }),
  NOTIFICATIONS_TOPIC: Type.String({
    default: 'notifications',
    pattern: '^[A-Za-z0-9._-]{1,200}$',
    description: 'the topic the relay publishes accepted notifications to, keyed by recipient',
  }),
  TOPIC_PARTITIONS: int(6, 1, 'partitions when the topic is created'),
  ROUTER_QUEUE_HIGH_WATER: int(
    50_000,
    100,
    'the router pauses while its channel queues hold more jobs than this (≈ 1.2 KB of queue Redis each): the backlog waits in Kafka, not in a Redis that must never fill',
  ),
  ROUTER_GROUP_ID: Type.String({
    default: 'notifications-router',
    minLength: 1,
    description: "the router's consumer group",
  }),
  KAFKA_SESSION_TIMEOUT_MS: int(
    10_000,
    1000,
    "a router silent this long leaves the group (kafkajs' sessionTimeout)",
  ),
  KAFKA_HEARTBEAT_INTERVAL_MS: int(1000, 100, "kafkajs' heartbeatInterval"),
  RELAY_BATCH_MAX: int(500, 1, 'outbox rows per Kafka send'),
  RELAY_POLL_MS: int(20, 1, 'the relay sleeps this long when the outbox is empty'),
  IDEMPOTENCY_TTL_S: int(86_400, 1, 'an Idempotency-Key is remembered this long (Knock: 24 h)'),
  IDEMPOTENCY_LOCK_MS: int(
    30_000,
    100,
    'a request holding an Idempotency-Key marks it in flight this long at most (a repeat meanwhile gets 409)',
  ),
  DEFAULT_TTL_S: int(86_400, 1, 'maximum age of a notification whose request has no ttlS'),
  MAX_TTL_S: int(7 * 86_400, 1, 'largest ttlS accepted'),
  RATE_LIMIT_PER_RECIPIENT: int(
    20,
    1,
    'notifications per recipient and category per RATE_LIMIT_WINDOW_S (a sliding log, whose memory is its limit); more are suppressed (critical bypasses)',
    10_000,
  ),
  RATE_LIMIT_WINDOW_S: int(3600, 1, 'the window of RATE_LIMIT_PER_RECIPIENT'),
  PROVIDER_EMAIL_URL: providerUrl('email', 'base URL of the email provider (POST <base>/v1/messages)'),
  PROVIDER_SMS_URL: providerUrl('sms-a', 'base URL of the primary SMS provider'),
  PROVIDER_SMS_FALLBACK_URL: providerUrl('sms-b', 'base URL of the SMS provider failed over to'),
  PROVIDER_PUSH_URL: providerUrl('push', 'base URL of the push provider'),
  PROVIDER_TIMEOUT_MS: int(
    10_000,
    1,
    "one provider attempt's deadline (providerDeadline on): above the provider's budget",
  ),
  PROVIDER_NAIVE_TIMEOUT_MS: int(1000, 1, "one provider attempt's deadline with providerDeadline off"),
  PROVIDER_NAIVE_RETRIES: int(3, 0, 'immediate blind retries inside a job run with providerDeadline off'),
  BREAKER_FAILURES: int(5, 1, "consecutive failures that open a provider's circuit breaker"),
  BREAKER_OPEN_MS: int(5000, 1, 'an open breaker lets one probe through after this long'),
  JOB_ATTEMPTS: int(8, 1, 'attempts of a delivery before it is dead-lettered as exhausted'),
  JOB_BACKOFF_MS: int(
    500,
    1,
    'base of the retry delay (exponential with full jitter, capped at JOB_BACKOFF_MAX_MS)',
  ),
  JOB_BACKOFF_MAX_MS: int(60_000, 1, 'largest retry delay'),
  WORKER_CONCURRENCY: int(
    50,
    1,
    'jobs at once per channel queue per worker process (I/O-bound: claims and markSent are batched across them, so more in flight costs little)',
  ),
  JOB_LOCK_MS: int(
    30_000,
    100,
    "BullMQ's job lock (renewed every half of it): a job whose worker is silent longer (killed, SIGSTOPped) is stalled and runs again (pm15)",
  ),
  JOB_STALLED_CHECK_MS: int(30_000, 100, 'how often a channel worker looks for stalled jobs'),
  JOB_MAX_STALLED: int(
    5,
    0,
    "stalls a job may go through (its worker killed or frozen mid-run) before it is dead-lettered exhausted; BullMQ's default 1 dead-letters a job caught by two restarts, often after it was delivered",
  ),
  WORKER_CHANNELS: Type.String({
    default: channels.join(','),
    pattern: '^\\s*[a-z]+\\s*(,\\s*[a-z]+\\s*)*$',
    description: 'the channel queues this worker process serves (comma-separated)',
  }),
  WEBHOOK_SECRET: Type.String({
    default: 'faultline-lab-webhook-secret',
    minLength: 16,
    description: 'HMAC-SHA256 key of the webhook signature header',
  }),
  WEBHOOK_ALLOWLIST: Type.String({
    default: '',
    description:
      'webhook destinations allowed although they resolve to loopback/private/link-local addresses: comma-separated host:port or CIDR (the lab adds its own fakes)',
  }),
  WEBHOOK_TIMEOUT_MS: int(5000, 1, 'a webhook POST slower than this fails (retried)'),
  DEAD_LETTER_ALERT_S: int(
    60,
    1,
    'the worker counts ntf-dead every half of this: the dead-letter alert (an error log line and the notifications_dead_letter_alert gauge) fires within this long of a job being dead-lettered',
  ),
  PROVIDER_NAMES: Type.String({
    default: 'email,sms-a,sms-b,push',
    pattern: '^\\s*[a-z0-9-]+\\s*(,\\s*[a-z0-9-]+\\s*)*$',
    description: "the providers' server: the providers it serves, each at /<name>",
  }),
  PROVIDER_KNOBS: Type.String({
    default: '',
    description:
      'the providers\' server: failure knobs at boot, JSON provider name → knobs, e.g. {"sms-a":{"errorRate":0.2,"latencyMs":50}} (see docs/notifications.md; changeable at run time with PUT /<name>/admin/knobs)',
  }),
})

export type Env = Record<string, string | undefined>

export interface ProviderUrls {
  email: string
  sms: string
  smsFallback: string
  push: string
}

export interface Config extends ProcessSettings {
  databaseUrl: string
  dbSchema: string
  dbPoolMax: number
  dbConnectTimeoutMs: number
  dbStatementTimeoutMs: number
  migrateOnStart: boolean
  redisUrl: string
  redisKeyPrefix: string
  redisCommandTimeoutMs: number
  queueRedisUrl: string
  queuePrefix: string
  kafkaBrokers: string[]
  kafkaClientId: string
  topic: string
  topicPartitions: number
  routerGroupId: string
  /** ROUTER_QUEUE_HIGH_WATER. */
  routerQueueHighWater: number
  kafkaSessionTimeoutMs: number
  kafkaHeartbeatIntervalMs: number
  relayBatchMax: number
  relayPollMs: number
  idempotencyTtlS: number
  idempotencyLockMs: number
  defaultTtlS: number
  maxTtlS: number
  rateLimit: { limit: number; windowMs: number }
  providers: ProviderUrls
  providerTimeoutMs: number
  providerNaiveTimeoutMs: number
  providerNaiveRetries: number
  breaker: { failures: number; openMs: number }
  jobAttempts: number
  jobBackoffMs: number
  jobBackoffMaxMs: number
  workerConcurrency: number
  /** JOB_LOCK_MS and JOB_STALLED_CHECK_MS: BullMQ's lock and stalled-job check. */
  jobLockMs: number
  jobStalledCheckMs: number
  jobMaxStalled: number
  workerChannels: Channel[]
  webhook: { secret: string; allowlist: string[]; timeoutMs: number }
  deadLetterAlertS: number
  providerNames: string[]
  /** The providers' server's knobs at boot, per provider name (PROVIDER_KNOBS). */
  providerKnobs: Record<string, Partial<Knobs>>
  mitigations: Mitigations
}

function knobIssues(parsed: ReturnType<typeof parseProviderKnobs>): ConfigIssue[] {
  return 'problem' in parsed ? [{ name: 'PROVIDER_KNOBS', reason: parsed.problem }] : []
}

/** Reads and checks the environment once; throws one ConfigError listing every bad variable. */
export function loadConfig(env: Env = process.env): Config {
  // PROVIDER_KNOBS is parsed once, by the check, so that a bad value is listed with every other
  // bad variable; the check keeps the knobs it parsed, and loadServiceEnv returns only when no
  // check found a problem.
  let providerKnobs: Record<string, Partial<Knobs>> = {}
  const { env: e, mitigations } = loadServiceEnv(configSchema, switches, env, (e) => {
    const parsed = parseProviderKnobs(e.PROVIDER_KNOBS, envList(e.PROVIDER_NAMES))
    if ('knobs' in parsed) providerKnobs = parsed.knobs
    return [
      ...envList(e.WORKER_CHANNELS)
        .filter((c) => !(channels as readonly string[]).includes(c))
        .map((c) => ({
          name: 'WORKER_CHANNELS',
          reason: `unknown channel "${c}" (one of ${channels.join(', ')})`,
        })),
      ...knobIssues(parsed),
    ]
  })
  const workerChannels = envList(e.WORKER_CHANNELS)
  const providerNames = envList(e.PROVIDER_NAMES)
  return {
    ...processSettings(e),
    databaseUrl: e.DATABASE_URL,
    dbSchema: e.DB_SCHEMA,
    dbPoolMax: e.PG_POOL_MAX,
    dbConnectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
    dbStatementTimeoutMs: e.PG_STATEMENT_TIMEOUT_MS,
    migrateOnStart: e.MIGRATE_ON_START,
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    queueRedisUrl: e.QUEUE_REDIS_URL,
    queuePrefix: e.QUEUE_PREFIX,
    kafkaBrokers: envList(e.KAFKA_BROKERS),
    kafkaClientId: e.KAFKA_CLIENT_ID,
    topic: e.NOTIFICATIONS_TOPIC,
    topicPartitions: e.TOPIC_PARTITIONS,
    routerGroupId: e.ROUTER_GROUP_ID,
    routerQueueHighWater: e.ROUTER_QUEUE_HIGH_WATER,
    kafkaSessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS,
    kafkaHeartbeatIntervalMs: e.KAFKA_HEARTBEAT_INTERVAL_MS,
    relayBatchMax: e.RELAY_BATCH_MAX,
    relayPollMs: e.RELAY_POLL_MS,
    idempotencyTtlS: e.IDEMPOTENCY_TTL_S,
    idempotencyLockMs: e.IDEMPOTENCY_LOCK_MS,
    defaultTtlS: Math.min(e.DEFAULT_TTL_S, e.MAX_TTL_S),
    maxTtlS: e.MAX_TTL_S,
    rateLimit: { limit: e.RATE_LIMIT_PER_RECIPIENT, windowMs: e.RATE_LIMIT_WINDOW_S * 1000 },
    providers: {
      email: e.PROVIDER_EMAIL_URL,
      sms: e.PROVIDER_SMS_URL,
      smsFallback: e.PROVIDER_SMS_FALLBACK_URL,
      push: e.PROVIDER_PUSH_URL,
    },
    providerTimeoutMs: e.PROVIDER_TIMEOUT_MS,
    providerNaiveTimeoutMs: e.PROVIDER_NAIVE_TIMEOUT_MS,
    providerNaiveRetries: e.PROVIDER_NAIVE_RETRIES,
    breaker: { failures: e.BREAKER_FAILURES, openMs: e.BREAKER_OPEN_MS },
    jobAttempts: e.JOB_ATTEMPTS,
    jobBackoffMs: e.JOB_BACKOFF_MS,
    jobBackoffMaxMs: Math.max(e.JOB_BACKOFF_MAX_MS, e.JOB_BACKOFF_MS),
    workerConcurrency: e.WORKER_CONCURRENCY,
    jobLockMs: e.JOB_LOCK_MS,
    jobStalledCheckMs: e.JOB_STALLED_CHECK_MS,
    jobMaxStalled: e.JOB_MAX_STALLED,
    workerChannels: workerChannels as Channel[],
    webhook: {
      secret: e.WEBHOOK_SECRET,
      allowlist: envList(e.WEBHOOK_ALLOWLIST),
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
    },
    deadLetterAlertS: e.DEAD_LETTER_ALERT_S,
    providerNames,
    providerKnobs,
    mitigations,
  }
}
