/**
 * The router process: a Kafka consumer group (ROUTER_GROUP_ID) on NOTIFICATIONS_TOPIC that turns
 * each accepted notification into one delivery per channel — suppressed, expired, held for quiet
 * hours or queued, by the rules in router/decide.ts — inserts them and puts the queued and held
 * ones on their BullMQ channel queues (job id = delivery id), then commits the offsets
 * (router/consumer.ts).
 *   node services/notifications/src/router.ts      (pnpm --filter @faultline/notifications router)
 * Several routers split the partitions between them. It runs on the kit's worker runtime:
 * /healthz, /readyz (the consumer joined its group), /metrics and /admin/mitigations on PORT; on
 * SIGTERM the chunk in flight finishes, what was routed is committed, the consumer leaves the
 * group, then the queues, Redis and Postgres close, under SHUTDOWN_DEADLINE_MS.
 */
import { createKafka, createPgPool, createRedis } from '@faultline/kit/clients'
import { runMain } from '@faultline/kit/config'
import { createLogger } from '@faultline/kit/logging'
import { createMetrics } from '@faultline/kit/metrics'
import { whenReachable } from '@faultline/kit/reachable'
import { runWorker } from '@faultline/kit/worker'
import { waitForRedisReady } from '@faultline/ratelimit'
import { type Config, loadConfig } from './config.ts'
import { runMigrations } from './migrate.ts'
import { createRouter } from './router/components.ts'

async function main(config: Config): Promise<void> {
  const log = createLogger({ name: 'notifications-router', level: config.logLevel }).child({
    instance: config.instanceId,
  })
  const pool = createPgPool(config.databaseUrl, {
    max: 4,
    searchPath: config.dbSchema,
    statementTimeoutMs: Math.max(config.dbStatementTimeoutMs, 5000),
    connectionTimeoutMs: config.dbConnectTimeoutMs,
    applicationName: `notifications-router-${config.instanceId}`,
    log,
  })
  // The rate limiter's Redis fails fast (no offline queue, no retry, a command timeout): when it
  // is down or slow a decision is allowed at once (and counted) instead of stalling the router.
  const redis = createRedis(config.redisUrl, {
    name: `notifications-router-${config.instanceId}`,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    log,
  })
  // BullMQ's rule: its connection never gives up on a command (a queue Redis outage is waited out).
  const queueRedis = createRedis(config.queueRedisUrl, {
    name: `notifications-router-queue-${config.instanceId}`,
    maxRetriesPerRequest: null,
    log,
  })
  const kitMetrics = createMetrics({
    defaultLabels: { service: 'notifications-router', instance: config.instanceId },
  })
  kitMetrics.observePgPool(pool, 'primary')
  const kafka = createKafka({
    brokers: config.kafkaBrokers,
    clientId: `${config.kafkaClientId}-router-${config.instanceId}`,
    log,
  })
  const router = createRouter(config, { pool, redis, queueRedis, kafka, metrics: kitMetrics, log })

  await runWorker({
    name: 'notifications-router',
    log,
    host: config.host,
    port: config.port,
    metrics: kitMetrics,
    readiness: { consumer: router.consumerReady },
    switches: { state: router.switches, adminToken: config.adminToken },
    deadlineMs: config.shutdownDeadlineMs,
    drainMs: config.shutdownDrainMs,
    start: async (signal) => {
      if (config.migrateOnStart) await migrateWhenReachable(signal)
      // Without an offline queue a decision made before the first connect would fail (and be
      // allowed): wait for it, but not forever — a Redis outage must not keep the router down.
      await waitForRedisReady(redis).catch((err: unknown) =>
        log.warn({ err }, 'cache Redis not ready; rate limits allow until it is'),
      )
      await router.start(signal)
      log.info({ topic: config.topic, groupId: config.routerGroupId }, 'router consuming')
    },
    // Finishes the chunk in flight, commits what was routed, leaves the group, closes the queues.
    stop: () => router.stop(),
    closers: [
      { name: 'redis', close: () => redis.quit().catch(() => redis.disconnect()) },
      { name: 'queue-redis', close: () => queueRedis.quit().catch(() => queueRedis.disconnect()) },
      { name: 'postgres', close: () => pool.end() },
    ],
  })

  async function migrateWhenReachable(signal: AbortSignal): Promise<void> {
    await whenReachable('Postgres', () => runMigrations({ pool, schema: config.dbSchema, log }), {
      log,
      signal,
    })
  }
}

if (import.meta.main) {
  await runMain(loadConfig, main)
}
