/**
 * The click worker: a Kafka consumer group on CLICKS_TOPIC that adds each batch's clicks to
 * link_clicks in Postgres, idempotently (see ClickRepository.applyBatches and clicks/batch.ts).
 *   node services/shortener/src/worker.ts      (pnpm --filter @faultline/shortener worker)
 * Several workers split the partitions between them. With WORKER_METRICS_PORT set it serves
 * /metrics and /healthz there.
 */
import { createServer, type Server } from 'node:http'
import { createKafka, createPgPool } from '@faultline/kit/clients'
import { ConfigError } from '@faultline/kit/config'
import { createLogger } from '@faultline/kit/logging'
import { createMetrics } from '@faultline/kit/metrics'
import { retry } from '@faultline/resilience'
import { createClickBatchHandler, runClickConsumer } from './clicks/consumer.ts'
import { type Config, loadConfig } from './config.ts'
import { ensureTopic } from './kafka-topic.ts'
import { createWorkerMetrics } from './metrics.ts'
import { migrationOptions, runMigrations } from './migrate.ts'
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
    await runMigrations({ pool, ...migrationOptions(config), log })
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
  const consumer = kafka.consumer({
    groupId: config.clicksGroupId,
    // Restart after the run loop crashes (e.g. the broker went away) instead of staying down.
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5000 },
  })
  consumer.on(consumer.events.CRASH, (event) => log.error({ err: event.payload.error }, 'consumer crashed'))

  const prune = setInterval(() => {
    clicks
      .pruneWatermarks(config.clickDedupeRetentionMs)
      .then((deleted) => {
        if (deleted > 0) log.info({ deleted }, 'pruned the watermarks of recorders gone quiet')
      })
      .catch((err: unknown) => log.warn({ err }, 'pruning click watermarks failed'))
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
  const stopping = new AbortController()
  const shutdown = async (signal: string) => {
    if (closing) process.exit(1)
    closing = true
    stopping.abort()
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

  // A worker started while Kafka is down (pm04, or compose starting everything at once) waits
  // for the broker instead of exiting: clicks are already safe in Kafka, nothing is lost by
  // waiting, and a supervisor restart loop would only add noise. kafkajs's own connect retries
  // give up after a few seconds, hence the outer loop.
  const connected = await retry(
    async () => {
      await ensureTopic(kafka, config.clicksTopic, config.clicksTopicPartitions)
      await consumer.connect()
    },
    {
      maxAttempts: Number.POSITIVE_INFINITY,
      baseMs: 500,
      capMs: 10_000,
      signal: stopping.signal,
      onAttempt: ({ outcome, error, delayMs }) => {
        if (outcome === 'failure' && delayMs !== undefined)
          log.warn({ err: error, retryInMs: Math.round(delayMs) }, 'Kafka not reachable yet, retrying')
      },
    },
  ).then(
    () => true,
    (err: unknown) => {
      if (stopping.signal.aborted) return false // shut down while waiting; shutdown() exits
      throw err
    },
  )
  if (!connected) return
  await runClickConsumer(consumer, config.clicksTopic, createClickBatchHandler({ clicks, metrics, log }))
  log.info({ topic: config.clicksTopic, groupId: config.clicksGroupId }, 'click worker running')
}

try {
  await main(loadConfig())
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err)
  process.exit(1)
}
