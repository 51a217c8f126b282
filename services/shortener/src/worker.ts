/**
 * The click worker: a Kafka consumer group on CLICKS_TOPIC that adds each batch's clicks to
 * link_clicks in Postgres, idempotently (see ClickRepository.applyBatches and clicks/batch.ts).
 *   node services/shortener/src/worker.ts      (pnpm --filter @faultline/shortener worker)
 * Several workers split the partitions between them. It runs on the kit's worker runtime: /healthz,
 * /readyz (the consumer joined its group), /metrics and /admin/mitigations on PORT (else the older
 * WORKER_METRICS_PORT, else 3001), and on SIGTERM: probes fail, the listener closes, the consumer
 * commits and leaves the group, then Postgres closes — under SHUTDOWN_DEADLINE_MS.
 */
import { createKafka, createPgPool, ensureTopic, kafkaConsumerReadinessCheck } from '@faultline/kit/clients'
import { runMain } from '@faultline/kit/config'
import { createLogger } from '@faultline/kit/logging'
import { createMetrics } from '@faultline/kit/metrics'
import { whenReachable } from '@faultline/kit/reachable'
import { runWorker } from '@faultline/kit/worker'
import { createClickBatchHandler, runClickConsumer } from './clicks/consumer.ts'
import { type Config, loadConfig } from './config.ts'
import { createWorkerMetrics } from './metrics.ts'
import { migrationOptions, runMigrations } from './migrate.ts'
import { createMitigationState } from './mitigations.ts'
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
  const metrics = createWorkerMetrics(kitMetrics.registry)
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

  await runWorker({
    name: 'shortener-worker',
    log,
    host: config.host,
    port: config.workerPort,
    metrics: kitMetrics,
    // Ready once the consumer is a member of its group, not merely once the process runs.
    readiness: { consumer: kafkaConsumerReadinessCheck(consumer) },
    switches: { state: createMitigationState(config.mitigations), adminToken: config.adminToken },
    deadlineMs: config.shutdownDeadlineMs,
    drainMs: config.shutdownDrainMs,
    start: (signal) => startConsuming(signal),
    // Commits what was applied and leaves the group, so its partitions move to another worker now.
    stop: async () => {
      clearInterval(prune)
      await consumer.disconnect()
    },
    closers: [{ name: 'postgres', close: () => pool.end() }],
  })

  // A worker started while Kafka is down (pm04, or compose starting everything at once) waits
  // for the broker instead of exiting: clicks are already safe in Kafka, nothing is lost by
  // waiting, and a supervisor restart loop would only add noise. kafkajs's own connect retries
  // give up after a few seconds, hence the outer loop.
  async function startConsuming(signal: AbortSignal): Promise<void> {
    await whenReachable(
      'Kafka',
      async () => {
        await ensureTopic(kafka, config.clicksTopic, config.clicksTopicPartitions)
        await consumer.connect()
      },
      { log, signal },
    )
    await runClickConsumer(consumer, config.clicksTopic, createClickBatchHandler({ clicks, metrics, log }))
    log.info({ topic: config.clicksTopic, groupId: config.clicksGroupId }, 'click worker consuming')
  }
}

await runMain(loadConfig, main)
