/**
 * The notification service on real infrastructure for one test: an isolated Postgres schema with
 * the migrations applied, one random prefix for the cache Redis keys and the BullMQ queues (both
 * deleted after the test by @faultline/testkit), and with `kafka` a topic and consumer group of
 * its own. Components (the app, the router, the channel workers) are built by each test file from
 * `h.config()` and the pools here, the way the process entry points build them.
 *
 *   const h = await notificationsHarness(t, { kafka: true })
 *   const config = h.config({ RATE_LIMIT_PER_RECIPIENT: '2' })
 */
import { createPgPool, createRedis } from '@faultline/kit/clients'
import { createLogger, type Logger } from '@faultline/kit/logging'
import type { AfterHost, TestInfra } from '@faultline/testkit'
import { testInfra } from '@faultline/testkit'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { type Config, loadConfig } from '../src/config.ts'
import { NotificationKeys } from '../src/keys.ts'
import { runMigrations } from '../src/migrate.ts'
import { DeliveryRepository } from '../src/repositories/deliveries.ts'

export const silentLog: Logger = createLogger({ name: 'notifications-test', level: 'silent' })

export interface HarnessOptions {
  /** Kafka too: a fresh NOTIFICATIONS_TOPIC (created with `partitions`, default 3) and ROUTER_GROUP_ID. */
  kafka?: boolean | { partitions?: number }
  /** Extra environment for every config of this harness. */
  env?: Record<string, string>
}

export interface NotificationsHarness {
  infra: TestInfra
  schema: string
  /** A pool on the test schema, for seeding and assertions (the components get their own, see `pool`). */
  db: pg.Pool
  deliveries: DeliveryRepository
  /** The environment every component of this test is configured from. */
  env: Record<string, string>
  /** REDIS_KEY_PREFIX and QUEUE_PREFIX of this test. */
  prefix: string
  keys: NotificationKeys
  /** Set with `kafka`: the test's topic and consumer group. */
  topic?: string
  groupId?: string
  /** The Config of a component of this test (env on top of the harness's). */
  config(env?: Record<string, string>): Config
  /** A new pool on the test schema, closed after the test. */
  pool(max?: number): pg.Pool
  /** A new cache Redis client, closed after the test. */
  redis(): Redis
  /** A new queue Redis client (BullMQ: maxRetriesPerRequest null), closed after the test. */
  queueRedis(): Redis
}

export async function notificationsHarness(
  t: AfterHost,
  o: HarnessOptions = {},
): Promise<NotificationsHarness> {
  const infra = await testInfra(t, {
    need: o.kafka ? ['postgres', 'redis', 'queueRedis', 'kafka'] : ['postgres', 'redis', 'queueRedis'],
  })
  const { schema, pool: db } = await infra.schema()
  await runMigrations({ pool: db, schema })
  // testkit's `t:<random>:` prefix: every key under it is deleted from both Redis after the test.
  const prefix = infra.keyPrefix().replace(/:$/, '')
  let topic: string | undefined
  let groupId: string | undefined
  if (o.kafka) {
    const partitions = typeof o.kafka === 'object' ? (o.kafka.partitions ?? 3) : 3
    topic = await infra.createTopic('notifications', partitions)
    groupId = `notifications-router-${topic.split('.t').pop()}`
  }
  const env: Record<string, string> = {
    DATABASE_URL: infra.urls.databaseUrl,
    DB_SCHEMA: schema,
    REDIS_URL: infra.urls.redisUrl,
    REDIS_KEY_PREFIX: prefix,
    QUEUE_REDIS_URL: infra.urls.queueRedisUrl,
    QUEUE_PREFIX: prefix,
    MIGRATE_ON_START: 'false',
    LOG_LEVEL: 'silent',
    ...(topic && groupId
      ? {
          KAFKA_BROKERS: infra.urls.kafkaBrokers.join(','),
          NOTIFICATIONS_TOPIC: topic,
          ROUTER_GROUP_ID: groupId,
        }
      : {}),
    ...o.env,
  }
  const config = (extra: Record<string, string> = {}) => loadConfig({ ...env, ...extra })
  const base = config()
  const redisClient = (url: string, name: string, bullmq: boolean) => {
    const r = createRedis(url, { name, log: silentLog, ...(bullmq ? { maxRetriesPerRequest: null } : {}) })
    infra.defer(() => r.disconnect())
    return r
  }
  return {
    infra,
    schema,
    db,
    deliveries: new DeliveryRepository(db),
    env,
    prefix,
    keys: new NotificationKeys(prefix),
    ...(topic ? { topic } : {}),
    ...(groupId ? { groupId } : {}),
    config,
    pool(max = 5) {
      const p = createPgPool(base.databaseUrl, {
        max,
        searchPath: schema,
        statementTimeoutMs: base.dbStatementTimeoutMs,
        connectionTimeoutMs: base.dbConnectTimeoutMs,
        applicationName: 'notifications-test',
        log: silentLog,
      })
      infra.defer(() => p.end())
      return p
    },
    redis: () => redisClient(base.redisUrl, 'notifications-test', false),
    queueRedis: () => redisClient(base.queueRedisUrl, 'notifications-test-queue', true),
  }
}
