/**
 * The channel worker: one BullMQ Worker per WORKER_CHANNELS queue (`ntf-<channel>`), each job a
 * delivery sent through its provider (src/sender/process-delivery.ts), retried with full jitter,
 * dead-lettered to `ntf-dead` when it is poison or exhausted.
 *   node services/notifications/src/worker.ts      (pnpm --filter @faultline/notifications worker)
 * It runs on the kit's worker runtime: /healthz, /readyz (every channel worker running),
 * /metrics and /admin/mitigations on PORT; on SIGTERM the jobs in progress finish (BullMQ's
 * close), then the queues, the queue Redis and Postgres close, under SHUTDOWN_DEADLINE_MS.
 */
import { createPgPool, createRedis } from '@faultline/kit/clients'
import { runMain } from '@faultline/kit/config'
import { createLogger } from '@faultline/kit/logging'
import { createMetrics } from '@faultline/kit/metrics'
import { whenReachable } from '@faultline/kit/reachable'
import { bullmqWorkerReadinessCheck, runWorker } from '@faultline/kit/worker'
import { type Config, loadConfig } from './config.ts'
import { runMigrations } from './migrate.ts'
import { createChannelWorker } from './sender/components.ts'

async function main(config: Config): Promise<void> {
  const log = createLogger({ name: 'notifications-worker', level: config.logLevel }).child({
    instance: config.instanceId,
  })
  const pool = createPgPool(config.databaseUrl, {
    max: Math.max(4, Math.min(config.dbPoolMax, config.workerConcurrency)),
    searchPath: config.dbSchema,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    connectionTimeoutMs: config.dbConnectTimeoutMs,
    applicationName: `notifications-worker-${config.instanceId}`,
    log,
  })
  // BullMQ's rule: a worker's connection retries commands forever (maxRetriesPerRequest null).
  const queueRedis = createRedis(config.queueRedisUrl, {
    name: `notifications-worker-${config.instanceId}`,
    log,
    maxRetriesPerRequest: null,
  })
  const metrics = createMetrics({
    defaultLabels: { service: 'notifications-worker', instance: config.instanceId },
  })
  metrics.observePgPool(pool, 'primary')
  const worker = createChannelWorker(
    config,
    { pool, queueRedis, metrics, log },
    {
      lockDurationMs: config.jobLockMs,
      stalledIntervalMs: config.jobStalledCheckMs,
      maxStalledCount: config.jobMaxStalled,
    },
  )

  await runWorker({
    name: 'notifications-worker',
    log,
    host: config.host,
    port: config.port,
    metrics,
    readiness: Object.fromEntries(
      [...worker.workers.workers].map(([channel, w]) => [`worker-${channel}`, bullmqWorkerReadinessCheck(w)]),
    ),
    switches: { state: worker.mitigations, adminToken: config.adminToken },
    deadlineMs: config.shutdownDeadlineMs,
    drainMs: config.shutdownDrainMs,
    start: async (signal) => {
      if (config.migrateOnStart) {
        await whenReachable('Postgres', () => runMigrations({ pool, schema: config.dbSchema, log }), {
          log,
          signal,
        })
      }
      worker.workers.start()
      worker.alarm.start()
      log.info(
        { channels: config.workerChannels, concurrency: config.workerConcurrency },
        'channel workers consuming',
      )
    },
    stop: () => worker.workers.close(),
    closers: [
      { name: 'queues', close: () => worker.queues.close() },
      { name: 'providers', close: () => worker.providers.close() },
      { name: 'queue-redis', close: () => queueRedis.quit().catch(() => queueRedis.disconnect()) },
      { name: 'postgres', close: () => pool.end() },
    ],
  })
}

if (import.meta.main) {
  await runMain(loadConfig, main)
}
