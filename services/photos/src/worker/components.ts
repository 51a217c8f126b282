/**
 * The worker process's wiring: the lanes' BullMQ workers around processJob, with the image work
 * sandboxed or inline by the sandboxedProcessing switch, variants written content-addressed to S3
 * and each terminal status announced for the SSE streams.
 */
import { availableParallelism } from 'node:os'
import type { Metrics } from '@faultline/kit/metrics'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { createQueues, photoStorage } from '../components.ts'
import type { Config } from '../config.ts'
import { PhotoEventPublisher } from '../events.ts'
import { Keys } from '../keys.ts'
import { createMitigationState } from '../mitigations.ts'
import { processImage } from '../processor/process-image.ts'
import { SandboxPool } from '../processor/sandbox.ts'
import { queueConnection } from '../queue/lanes.ts'
import { PhotoRepository } from '../repositories/photos.ts'
import { StorageUnavailableError } from '../storage/errors.ts'
import { variantKey } from '../storage/object-store.ts'
import type { S3Client } from '../storage/s3-client.ts'
import { type LaneWorkerLog, LaneWorkers } from './lane-worker.ts'

export interface WorkerClients {
  pool: pg.Pool
  redis: Redis
  s3: S3Client
  metrics: Metrics
  log: LaneWorkerLog
}

export function createPhotoWorker(config: Config, clients: WorkerClients) {
  const mitigations = createMitigationState(config.mitigations)
  const keys = new Keys(config.redisKeyPrefix, config.queuePrefix)
  const photos = new PhotoRepository(clients.pool)
  const { gate, store } = photoStorage(config, clients.s3, mitigations)
  const queues = createQueues(config, keys, mitigations)
  const publisher = new PhotoEventPublisher(clients.redis, keys)
  const announce = (photoId: string, status: 'processing' | 'ready' | 'failed') =>
    publisher.announce(photoId, status)
  const outcomes = clients.metrics.counter({
    name: 'photos_jobs_total',
    help: 'processing jobs finished, by lane and outcome (ready, failed, missing, dead_lettered)',
    labelNames: ['lane', 'outcome'],
  })
  const runs = clients.metrics.counter({
    name: 'photos_job_runs_total',
    help: 'processing runs started, by lane: one per attempt, and one more for each job run again after its lock lapsed (pm21)',
    labelNames: ['lane'],
  })
  const rerunsAfterStall = clients.metrics.counter({
    name: 'photos_job_reruns_after_stall_total',
    help: 'processing runs of jobs a stalled check has put back at least once (their lock lapsed; job.stalledCounter > 0, which BullMQ never resets, so a later ordinary retry of such a job counts too), by lane (pm21)',
    labelNames: ['lane'],
  })
  const stalled = clients.metrics.counter({
    name: 'photos_jobs_stalled_total',
    help: "jobs this worker found with a lapsed lock (BullMQ's stalled check) and put back to run again, by lane",
    labelNames: ['lane'],
  })
  // Zero from the start, so a run's delta counts from before its first job.
  for (const lane of ['new', 'backfill'] as const) {
    runs.inc({ lane }, 0)
    rerunsAfterStall.inc({ lane }, 0)
    stalled.inc({ lane }, 0)
  }
  // Threads start on first use; a job slot beyond them waits for one (its wait counts against its
  // time limit, which started with the job).
  const sandbox = new SandboxPool({ size: processorThreads(config) })
  const workers = new LaneWorkers({
    connection: queueConnection(config.queueRedisUrl),
    keys,
    queues,
    photos,
    announce,
    concurrency: config.concurrency,
    newLaneSloMs: config.newLaneSloMs,
    lockDurationMs: config.jobLockMs,
    stalledCheckMs: config.jobStalledCheckMs,
    job: {
      photos,
      readOriginal: (key) => store.getStream(key),
      putVariant: async (bytes, format) => {
        const key = variantKey(bytes, format === 'jpeg' ? 'jpeg' : 'webp')
        await store.putBuffer(key, bytes, { contentType: `image/${format}` })
        return key
      },
      deleteObject: (key) => store.delete(key),
      // Sandboxed: a worker thread with a heap cap and the time limit, the event loop left free
      // to renew job locks. Off (pm21's naive): on this thread.
      process: (input, limits, startedAtMs) =>
        mitigations.current.sandboxedProcessing
          ? sandbox.run(input, limits, { startedAtMs })
          : processImage(input, limits, { startedAtMs }),
      announce,
      limits: config.limits,
      switches: mitigations,
    },
    onRun: (lane, afterStall) => {
      runs.inc({ lane })
      if (afterStall) rerunsAfterStall.inc({ lane })
    },
    onOutcome: (lane, outcome) => outcomes.inc({ lane, outcome: outcome.kind }),
    onStalled: (lane, jobId) => {
      stalled.inc({ lane })
      clients.log.warn({ lane, jobId }, 'job lock lapsed: the job runs again')
    },
    onDeadLetter: (lane) => outcomes.inc({ lane, outcome: 'dead_lettered' }),
    // Behind the breaker (s3Breaker), a job that found S3 unavailable waits for it (Retry-After:
    // what is left of the breaker's open time) instead of spending its attempts on the outage.
    deferFor: (err) =>
      mitigations.current.s3Breaker && err instanceof StorageUnavailableError
        ? err.retryAfterS * 1000
        : undefined,
    log: clients.log,
  })
  return { mitigations, keys, photos, gate, store, queues, workers, sandbox }
}

/**
 * PROCESSOR_THREADS, or the job slots of both lanes capped at the cores: more threads than cores
 * only share them (and starve the event loop that renews job locks), while slots beyond the
 * threads keep them busy — one slot reads its original from S3 or stores its variants while the
 * others' images are processed.
 */
export function processorThreads(config: Pick<Config, 'processorThreads' | 'concurrency'>): number {
  if (config.processorThreads > 0) return config.processorThreads
  const slots = config.concurrency.new + config.concurrency.backfill
  return Math.max(1, Math.min(slots, availableParallelism()))
}
