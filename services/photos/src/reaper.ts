/**
 * The reaper process: every REAPER_INTERVAL_S, one pass of reaper/reap.ts — photos stuck in
 * `processing` enqueued again, incomplete multipart uploads older than UPLOAD_TTL_S aborted, and
 * orphaned objects under incoming/ deleted (their bytes counted in `photos_orphaned_bytes_total`).
 *   node services/photos/src/reaper.ts      (pnpm --filter @faultline/photos reaper)
 * One instance is enough; two would do the same work twice, harmlessly (every step is idempotent).
 * On the kit's worker runtime: /healthz, /readyz, /metrics, /admin/mitigations on PORT.
 */
import { createPgPool } from '@faultline/kit/clients'
import { runMain } from '@faultline/kit/config'
import { createLogger } from '@faultline/kit/logging'
import { createMetrics } from '@faultline/kit/metrics'
import { runWorker } from '@faultline/kit/worker'
import { ensureBucket } from './bucket.ts'
import { createQueues, photoStorage } from './components.ts'
import { type Config, loadConfig } from './config.ts'
import { Keys } from './keys.ts'
import { createMitigationState } from './mitigations.ts'
import { reapOnce } from './reaper/reap.ts'
import { PhotoRepository } from './repositories/photos.ts'
import { createS3, s3ClientOptionsOf } from './storage/s3-client.ts'

async function main(config: Config): Promise<void> {
  const log = createLogger({ name: 'photos-reaper', level: config.logLevel }).child({
    instance: config.instanceId,
  })
  const pool = createPgPool(config.databaseUrl, {
    max: 2,
    searchPath: config.dbSchema,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    connectionTimeoutMs: config.dbConnectTimeoutMs,
    applicationName: `photos-reaper-${config.instanceId}`,
    log,
  })
  const s3 = createS3(s3ClientOptionsOf(config.s3))
  const mitigations = createMitigationState(config.mitigations)
  const keys = new Keys(config.redisKeyPrefix, config.queuePrefix)
  const { gate, store, uploads } = photoStorage(config, s3, mitigations)
  const queues = createQueues(config, keys, mitigations)
  const metrics = createMetrics({ defaultLabels: { service: 'photos-reaper', instance: config.instanceId } })
  const counters = {
    requeued: metrics.counter({
      name: 'photos_reaper_requeued_total',
      help: 'photos stuck in processing enqueued again',
    }),
    aborted: metrics.counter({
      name: 'photos_reaper_multipart_aborted_total',
      help: 'incomplete multipart uploads aborted after UPLOAD_TTL_S',
    }),
    tusRecovered: metrics.counter({
      name: 'photos_reaper_tus_recovered_total',
      help: 'finished tus uploads made into photos by the reaper (their finishing hook had failed)',
    }),
    orphans: metrics.counter({
      name: 'photos_reaper_orphans_deleted_total',
      help: 'orphaned objects deleted',
    }),
    orphanBytes: metrics.counter({
      name: 'photos_orphaned_bytes_total',
      help: 'bytes of orphaned objects found (and deleted) under incoming/ and of the parts of the incomplete multipart uploads aborted',
    }),
    failures: metrics.counter({ name: 'photos_reaper_failures_total', help: 'reaper passes that failed' }),
  }
  const photos = new PhotoRepository(pool)
  const deps = {
    photos,
    queues,
    gate,
    store,
    accept: { photos, queues, deleteObject: (key: string) => store.delete(key), log },
    uploads,
    uploadTtlMs: config.uploadTtlMs,
  }
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  const pass = async () => {
    try {
      const r = await reapOnce(deps)
      counters.requeued.inc(r.requeued)
      counters.tusRecovered.inc(r.tusRecovered)
      counters.aborted.inc(r.abortedMultipart)
      counters.orphans.inc(r.orphansDeleted)
      counters.orphanBytes.inc(r.orphanBytes)
      if (r.requeued + r.tusRecovered + r.abortedMultipart + r.orphansDeleted + r.tusInfoExpired > 0) {
        log.info(r, 'reaper pass')
      }
    } catch (err) {
      counters.failures.inc()
      log.warn({ err }, 'reaper pass failed; the next one retries')
    }
  }

  await runWorker({
    name: 'photos-reaper',
    log,
    host: config.host,
    port: config.port,
    metrics,
    switches: { state: mitigations, adminToken: config.adminToken },
    deadlineMs: config.shutdownDeadlineMs,
    drainMs: config.shutdownDrainMs,
    start: async () => {
      await ensureBucket(s3, config.s3.bucket)
      timer = setInterval(() => {
        running ??= pass().finally(() => {
          running = undefined
        })
      }, config.reaperIntervalMs)
      log.info({ intervalMs: config.reaperIntervalMs, uploadTtlMs: config.uploadTtlMs }, 'reaper running')
    },
    stop: async () => {
      if (timer) clearInterval(timer)
      await running
    },
    closers: [
      { name: 'queues', close: () => queues.close() },
      { name: 's3', close: () => s3.destroy() },
      { name: 'postgres', close: () => pool.end() },
    ],
  })
}

if (import.meta.main) {
  await runMain(loadConfig, main)
}
