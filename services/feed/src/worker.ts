/**
 * The fan-out worker: a Kafka consumer group (FANOUT_GROUP_ID) on POSTS_TOPIC that pushes each new
 * post id into the Redis timelines of the author's active followers and takes deleted ones out
 * (fanout/apply.ts), committing offsets as fanout/consumer.ts describes.
 *   node services/feed/src/worker.ts      (pnpm --filter @faultline/feed worker)
 * Several workers split the partitions between them. It runs on the kit's worker runtime: /healthz,
 * /readyz (the consumer joined its group), /metrics and /admin/mitigations on PORT; on SIGTERM the
 * event in flight finishes, what was applied is committed, the consumer leaves the group, then
 * Redis and Postgres close, under SHUTDOWN_DEADLINE_MS.
 */
import { createKafka, createPgPool, createRedis } from '@faultline/kit/clients'
import { runMain } from '@faultline/kit/config'
import { createLogger } from '@faultline/kit/logging'
import { createMetrics } from '@faultline/kit/metrics'
import { whenReachable } from '@faultline/kit/reachable'
import { runWorker } from '@faultline/kit/worker'
import { type Config, loadConfig } from './config.ts'
import { createFanout } from './fanout/components.ts'
import { runMigrations } from './migrate.ts'

async function main(config: Config): Promise<void> {
  const log = createLogger({ name: 'feed-worker', level: config.logLevel }).child({
    instance: config.instanceId,
  })
  const pool = createPgPool(config.databaseUrl, {
    max: 4,
    searchPath: config.dbSchema,
    statementTimeoutMs: Math.max(config.dbStatementTimeoutMs, 10_000),
    connectionTimeoutMs: config.dbConnectTimeoutMs,
    applicationName: `feed-worker-${config.instanceId}`,
    log,
  })
  // A pipeline of FANOUT_PIPELINE scripts takes longer than one API command: a longer timeout.
  const redis = createRedis(config.redisUrl, {
    name: `feed-worker-${config.instanceId}`,
    commandTimeoutMs: Math.max(config.redisCommandTimeoutMs, 5000),
    log,
  })
  const kitMetrics = createMetrics({ defaultLabels: { service: 'feed-worker', instance: config.instanceId } })
  kitMetrics.observePgPool(pool, 'primary')
  const kafka = createKafka({
    brokers: config.kafkaBrokers,
    clientId: `${config.kafkaClientId}-worker-${config.instanceId}`,
    log,
  })
  const fanout = createFanout(config, { pool, redis, kafka, metrics: kitMetrics, log })

  await runWorker({
    name: 'feed-worker',
    log,
    host: config.host,
    port: config.port,
    metrics: kitMetrics,
    readiness: { consumer: fanout.consumerReady },
    switches: { state: fanout.switches, adminToken: config.adminToken },
    deadlineMs: config.shutdownDeadlineMs,
    drainMs: config.shutdownDrainMs,
    start: async (signal) => {
      if (config.migrateOnStart) await migrateWhenReachable(signal)
      await fanout.start(signal)
      log.info({ topic: config.postsTopic, groupId: config.fanoutGroupId }, 'fan-out worker consuming')
    },
    // Finishes the event in flight, commits what was applied, leaves the group.
    stop: () => fanout.stop(),
    closers: [
      { name: 'redis', close: () => redis.quit().catch(() => redis.disconnect()) },
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
