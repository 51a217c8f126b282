/**
 * The processing worker: BullMQ workers on the two lanes (new uploads, backfill), each job an
 * image processed into its variants (worker/process-job.ts), failures retried then dead-lettered.
 *   node services/photos/src/worker.ts      (pnpm --filter @faultline/photos worker)
 * It runs on the kit's worker runtime: /healthz, /readyz, /metrics and /admin/mitigations on
 * PORT; on SIGTERM the jobs in progress finish (BullMQ's close), then Redis, S3 and Postgres close,
 * under SHUTDOWN_DEADLINE_MS. It runs at a lower CPU priority than the API (WORKER_NICE).
 */
import { createPgPool, createRedis } from '@faultline/kit/clients'
import { runMain } from '@faultline/kit/config'
import { createLogger } from '@faultline/kit/logging'
import { createMetrics } from '@faultline/kit/metrics'
import { whenReachable } from '@faultline/kit/reachable'
import { runWorker } from '@faultline/kit/worker'
import { ensureBucket } from './bucket.ts'
import { type Config, loadConfig } from './config.ts'
import { runMigrations } from './migrate.ts'
import { createS3, s3ClientOptionsOf } from './storage/s3-client.ts'
import { createPhotoWorker } from './worker/components.ts'
import { lowerPriority } from './worker/priority.ts'

async function main(config: Config): Promise<void> {
  const log = createLogger({ name: 'photos-worker', level: config.logLevel }).child({
    instance: config.instanceId,
  })
  lowerPriority(config.workerNice, log)
  const pool = createPgPool(config.databaseUrl, {
    max: 4,
    searchPath: config.dbSchema,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    connectionTimeoutMs: config.dbConnectTimeoutMs,
    applicationName: `photos-worker-${config.instanceId}`,
    log,
  })
  const redis = createRedis(config.redisUrl, {
    name: `photos-worker-${config.instanceId}`,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    log,
  })
  const s3 = createS3(s3ClientOptionsOf(config.s3))
  const metrics = createMetrics({ defaultLabels: { service: 'photos-worker', instance: config.instanceId } })
  metrics.observePgPool(pool, 'primary')
  const worker = createPhotoWorker(config, { pool, redis, s3, metrics, log })

  await runWorker({
    name: 'photos-worker',
    log,
    host: config.host,
    port: config.port,
    metrics,
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
      await ensureBucket(s3, config.s3.bucket)
      worker.workers.start()
      log.info({ concurrency: config.concurrency }, 'photo worker consuming')
    },
    stop: () => worker.workers.close(),
    closers: [
      { name: 'sandbox', close: () => worker.sandbox.close() },
      { name: 'queues', close: () => worker.queues.close() },
      { name: 'redis', close: () => redis.quit().catch(() => redis.disconnect()) },
      { name: 's3', close: () => s3.destroy() },
      { name: 'postgres', close: () => pool.end() },
    ],
  })
}

if (import.meta.main) {
  await runMain(loadConfig, main)
}
