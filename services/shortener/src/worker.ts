/**
 * The click worker: a Kafka consumer group on CLICKS_TOPIC that adds each batch's clicks to
 * link_clicks in Postgres, idempotently (see ClickRepository.applyBatch).
 *   node services/shortener/src/worker.ts      (pnpm --filter @faultline/shortener worker)
 * Several workers split the partitions between them. With WORKER_METRICS_PORT set it serves
 * /metrics and /healthz there.
 */
import { createServer, type Server } from 'node:http'
import { createKafka, createPgPool } from '@faultline/kit/clients'
import { ConfigError } from '@faultline/kit/config'
import { createLogger } from '@faultline/kit/logging'
import { createMetrics } from '@faultline/kit/metrics'
import { createClickBatchHandler, runClickConsumer } from './clicks/consumer.ts'
import { type Config, loadConfig } from './config.ts'
import { ensureTopic } from './kafka-topic.ts'
import { createWorkerMetrics } from './metrics.ts'
import { migrationLockTimeoutMs, runMigrations } from './migrate.ts'
import { ClickRepository } from './repositories/clicks.ts'

const pruneEveryMs = 10 * 60_000

async function main(config: Config): Promise<void> {
  const log = createLogger({ name: 'shortener-worker', level: config.logLevel }).child({
    instance: config.instanceId,
  })
  const pool = createPgPool(config.databaseUrl, {
    max: 4,
    searchPath: config.dbSchema,
    statementTimeoutMs: Math.max(config.dbStatementTimeoutMs, 10_000),
    connectionTimeoutMs: config.dbConnectTimeoutMs,
    applicationName: `shortener-worker-${config.instanceId}`,
    log,
  })
  if (config.migrateOnStart) {
    await runMigrations({
      pool,
      schema: config.dbSchema,
      lockTimeoutMs: migrationLockTimeoutMs(config),
      retries: config.migrateRetries,
      log,
    })
  }
  const kitMetrics = createMetrics({
    defaultLabels: { service: 'shortener-worker', instance: config.instanceId },
  })
  kitMetrics.observePgPool(pool, 'primary')
  const { registry } = kitMetrics
  const metrics = createWorkerMetrics(registry)
  const clicks = new ClickRepository(pool)

  const kafka = createKafka({
    brokers: config.kafkaBrokers,
    clientId: `${config.kafkaClientId}-worker-${config.instanceId}`,
    log,
  })
  await ensureTopic(kafka, config.clicksTopic, config.clicksTopicPartitions).catch((err: unknown) =>
    log.warn({ err, topic: config.clicksTopic }, 'could not ensure the clicks topic'),
  )
  const consumer = kafka.consumer({
    groupId: config.clicksGroupId,
    // Restart after the run loop crashes (e.g. the broker went away) instead of staying down.
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5000 },
  })
  consumer.on(consumer.events.CRASH, (event) => log.error({ err: event.payload.error }, 'consumer crashed'))
  await consumer.connect()
  await runClickConsumer(consumer, config.clicksTopic, createClickBatchHandler({ clicks, metrics, log }))
  log.info({ topic: config.clicksTopic, groupId: config.clicksGroupId }, 'click worker running')

  const prune = setInterval(() => {
    clicks
      .pruneSeen(config.clickDedupeRetentionMs)
      .then((deleted) => {
        if (deleted > 0) log.info({ deleted }, 'pruned seen click ids')
      })
      .catch((err: unknown) => log.warn({ err }, 'pruning seen click ids failed'))
  }, pruneEveryMs)
  prune.unref()

  let server: Server | undefined
  if (config.workerMetricsPort > 0) {
    server = createServer((req, res) => {
      if (req.url === '/metrics') {
        registry.metrics().then(
          (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
          () => res.writeHead(500).end(),
        )
      } else if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}')
      } else {
        res.writeHead(404).end()
      }
    })
    server.listen(config.workerMetricsPort, config.host)
  }

  // No Fastify app here, so the kit's installGracefulShutdown (which closes an app) does not fit:
  // the same order by hand — stop consuming (commits what was applied), then Postgres.
  let closing = false
  const shutdown = async (signal: string) => {
    if (closing) process.exit(1)
    closing = true
    log.info({ signal }, 'shutting down')
    setTimeout(() => {
      log.error({ deadlineMs: config.shutdownDeadlineMs }, 'shutdown deadline passed, exiting')
      process.exit(1)
    }, config.shutdownDeadlineMs).unref()
    clearInterval(prune)
    try {
      await consumer.disconnect()
      server?.close()
      await pool.end()
      log.info({}, 'shut down')
      process.exit(0)
    } catch (err) {
      log.error({ err }, 'shutdown failed')
      process.exit(1)
    }
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
}

try {
  await main(loadConfig())
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err)
  process.exit(1)
}
