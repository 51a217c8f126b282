/**
 * The photo system as the bench measures it (`node packages/bench/src/knee.ts --system photos`):
 * the upload knee — `POST /api/photos`, one small JPEG per request from a fresh owner (so every
 * request is a new photo and a new processing job, never a dedupe hit), 201 once S3 has it — with
 * the system running as deployed (API and processing worker), so a plateau the API still
 * acknowledges fast but the worker cannot process is named by the system's own signals: new
 * uploads piling up on the new lane, and how long the oldest has waited for its thumbnail (the
 * lane's SLO, NEW_LANE_SLO_MS).
 *
 * Every run is isolated and leaves nothing behind: a Postgres schema, a bucket, a queue prefix
 * and a cache-key prefix of its own, all removed by stop(). The API's /metrics has no queue
 * gauges, so the knee finder reads a small /metrics of this process instead: the API's series as
 * they are, the worker's `photos_jobs_total`, and the lanes' BullMQ counts. Every benchmark of
 * services/photos/bench (processing, upload, hostile-rss, ack-during-drain, with-system) starts
 * the system with `startPhotos` too. The bench finds this file by convention
 * (services/<system>/src/bench-target.ts); see packages/bench/src/target.ts.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import {
  type Child,
  defineBenchTarget,
  named,
  type RunningSystem,
  type StartSystemOptions,
  startServiceProcess,
  stopChild,
} from '@faultline/bench'
import { directEnv, repoRoot } from '@faultline/infra'
import { Queue } from 'bullmq'
import pg from 'pg'
import { loadConfig } from './config.ts'
import { Keys, lanes } from './keys.ts'
import { queueConnection } from './queue/lanes.ts'
import { createS3 } from './storage/s3-client.ts'

const serviceDir = join(repoRoot, 'services', 'photos')

/** The new lane's SLO (NEW_LANE_SLO_MS's default): past it, the processing is behind. */
const newLaneSloSeconds = 5
/**
 * Jobs waiting on the new lane above which the worker is behind: ten per job slot (the default
 * WORKER_CONCURRENCY_NEW is 2). A worker that keeps up leaves a job or two waiting between polls;
 * a backlog above this is arrivals outrunning the processing — seconds before the oldest job's
 * wait passes the SLO, and before (or in the same second as) the machine's cores fill up with
 * the worker's sharp threads, so the worker is named rather than its consequence.
 */
const newLaneBacklogJobs = 20
/** Postgres processes' CPU, in cores, that is saturation (as for the other systems). */
const postgresCores = 0.9

/**
 * A schema, bucket and prefixes unique to this run (`<pid>` and a stamp), so a benchmark never
 * reads or disturbs a test's, an experiment's or `./faultline up photos`' state, and two runs
 * never see each other's jobs.
 */
export function benchIsolationEnv(tag = `${process.pid}${Date.now().toString(36)}`): Record<string, string> {
  return {
    DB_SCHEMA: `photos_bench_${tag}`,
    S3_BUCKET: `photos-bench-${tag}`,
    REDIS_KEY_PREFIX: `photos-bench-${tag}`,
    QUEUE_PREFIX: `photos-bench-${tag}`,
  }
}

/** Direct connections (no Toxiproxy on the measured path; see packages/bench/README.md). */
export function directConnectionEnv(): Record<string, string> {
  const env = directEnv()
  return {
    DATABASE_URL: env.DATABASE_URL as string,
    REDIS_URL: env.REDIS_URL as string,
    QUEUE_REDIS_URL: env.QUEUE_REDIS_URL as string,
    S3_ENDPOINT: env.S3_ENDPOINT as string,
  }
}

export interface PhotoProcesses extends RunningSystem {
  /** The API's own URL (`metricsUrl` is this process's combined /metrics). */
  apiUrl: string
  /** The env every process got (connections, isolation, extras). */
  env: Record<string, string>
  /**
   * Starts the processing worker (when `worker: false` was given, or after stopWorker), with
   * `workerEnv` over the system's env (WORKER_CONCURRENCY_NEW, NODE_OPTIONS for a profile …).
   */
  startWorker(workerEnv?: Record<string, string>): Promise<Child>
  stopWorker(): Promise<void>
  /** Jobs per lane and state right now (BullMQ counts), and the oldest waiting new upload's age. */
  queueState(): Promise<QueueState>
}

export interface QueueState {
  waiting: Record<(typeof lanes)[number], number>
  active: Record<(typeof lanes)[number], number>
  /** Seconds the oldest waiting job of the new lane has waited (0 when none waits). */
  oldestNewWaitS: number
}

/**
 * Starts the API on `options.port` (it migrates the schema and creates the bucket) and, unless
 * `worker: false`, the processing worker; serves the combined /metrics on a free port. `extraEnv`
 * goes to both (WORKER_CONCURRENCY_NEW …), over the run's isolation: a benchmark with a named
 * world of its own (bench/processing-system.ts openWorld) passes that world's env here. `stop()`
 * stops the processes, then removes the run's schema, objects, bucket and queues.
 */
export async function startPhotos(
  options: StartSystemOptions,
  extraEnv: Record<string, string> = {},
): Promise<PhotoProcesses> {
  const env: Record<string, string> = {
    ...(options.viaToxiproxy ? {} : directConnectionEnv()),
    ...benchIsolationEnv(),
    ...extraEnv,
    ...options.env,
  }
  const config = loadConfig(env)
  const keys = new Keys(config.redisKeyPrefix, config.queuePrefix)
  const queues = lanes.map((lane) => new Queue(keys.queue(lane), queueOptions(config.queueRedisUrl, keys)))
  let api: { child: Child; url: string } | undefined
  let worker: { child: Child; url: string } | undefined
  let metricsServer: Server | undefined
  let stopped: Promise<void> | undefined
  const queueState = () => readQueueState(queues)
  const stopWorker = async () => {
    if (worker) await stopChild(worker.child)
    worker = undefined
  }
  const stop = () => {
    stopped ??= (async () => {
      if (api) await stopChild(api.child)
      await stopWorker()
      metricsServer?.close()
      await removeRunState(env, queues)
    })()
    return stopped
  }
  // What both processes share (startServiceProcess waits 60 s for /readyz unless told otherwise).
  const where = { repoRoot, serviceDir, startTimeoutMs: options.startTimeoutMs }
  try {
    api = await startServiceProcess(
      { ...where, entry: 'server.ts', name: 'photos-api', env, port: options.port },
      options,
    )
    const startWorker = async (workerEnv: Record<string, string> = {}) => {
      worker ??= await startServiceProcess(
        { ...where, entry: 'worker.ts', name: 'photos-worker', env: { ...env, ...workerEnv } },
        options,
      )
      return worker.child
    }
    if (options.worker !== false) await startWorker()
    const apiUrl = api.url
    metricsServer = await serveCombinedMetrics(async () => [
      await fetchText(`${apiUrl}/metrics`),
      worker ? workerJobLines(await fetchText(`${worker.url}/metrics`).catch(() => '')) : '',
      queueLines(await queueState()),
    ])
    const apiChild = api.child
    return {
      baseUrl: apiUrl,
      apiUrl,
      metricsUrl: `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}/metrics`,
      pgApplicationPattern: `%bench-${process.pid}`,
      api: apiChild,
      get worker() {
        return worker?.child
      },
      env,
      startWorker,
      stopWorker,
      queueState,
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}

function queueOptions(url: string, keys: Keys) {
  return { connection: queueConnection(url), prefix: keys.queuePrefix }
}

async function readQueueState(queues: Queue[]): Promise<QueueState> {
  const [newQueue, backfill] = queues as [Queue, Queue]
  const [n, b, [oldest]] = await Promise.all([
    newQueue.getJobCounts('waiting', 'active'),
    backfill.getJobCounts('waiting', 'active'),
    newQueue.getWaiting(0, 0),
  ])
  return {
    waiting: { new: n.waiting ?? 0, backfill: b.waiting ?? 0 },
    active: { new: n.active ?? 0, backfill: b.active ?? 0 },
    oldestNewWaitS: oldest ? Math.max(0, (Date.now() - oldest.timestamp) / 1000) : 0,
  }
}

async function fetchText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(700) })
  return res.text()
}

/** The worker's job outcomes only: its process and pool series would add to the API's. */
function workerJobLines(text: string): string {
  return text
    .split('\n')
    .filter((l) => l.startsWith('photos_jobs_total'))
    .join('\n')
}

function queueLines(q: QueueState): string {
  const lines = ['# TYPE photos_bench_queue_jobs gauge']
  for (const lane of lanes) {
    lines.push(`photos_bench_queue_jobs{lane="${lane}",state="waiting"} ${q.waiting[lane]}`)
    lines.push(`photos_bench_queue_jobs{lane="${lane}",state="active"} ${q.active[lane]}`)
  }
  lines.push('# TYPE photos_bench_oldest_new_wait_seconds gauge')
  lines.push(`photos_bench_oldest_new_wait_seconds ${q.oldestNewWaitS.toFixed(3)}`)
  return lines.join('\n')
}

/** A loopback /metrics that concatenates `parts()` on each scrape (a part that fails is left out). */
async function serveCombinedMetrics(parts: () => Promise<string[]>): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end()
      return
    }
    parts().then(
      (texts) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`${texts.join('\n')}\n`),
      (err: Error) => res.writeHead(503).end(err.message),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

/** Drops the run's schema, empties and deletes its bucket, obliterates its queues (best effort). */
async function removeRunState(env: Record<string, string>, queues: Queue[]): Promise<void> {
  const config = loadConfig(env)
  for (const q of queues) {
    await q.obliterate({ force: true }).catch(() => {})
    await q.close().catch(() => {})
  }
  const dead = new Queue(
    new Keys().deadLetterQueue(),
    queueOptions(config.queueRedisUrl, new Keys(config.redisKeyPrefix, config.queuePrefix)),
  )
  await dead.obliterate({ force: true }).catch(() => {})
  await dead.close().catch(() => {})
  const db = new pg.Client({ connectionString: config.databaseUrl })
  await db
    .connect()
    .then(() => db.query(`drop schema if exists ${config.dbSchema} cascade`))
    .catch(() => {})
  await db.end().catch(() => {})
  const s3 = createS3(config.s3)
  try {
    for (;;) {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: config.s3.bucket, MaxKeys: 1000 }))
      const objects = (page.Contents ?? []).map((o) => ({ Key: o.Key as string }))
      if (objects.length === 0) break
      await s3.send(new DeleteObjectsCommand({ Bucket: config.s3.bucket, Delete: { Objects: objects } }))
    }
    await s3.send(new DeleteBucketCommand({ Bucket: config.s3.bucket }))
  } catch {
    // Already gone, or never created: nothing of this run is left to remove.
  } finally {
    s3.destroy()
  }
}

export default defineBenchTarget({
  name: 'photos',
  request:
    'POST /api/photos (multipart, one 480×320 JPEG from a fresh owner): streamed to S3, 201 once S3 has it, then a photo row and a job on the new lane that the running worker processes into four variants and a placeholder',
  path: '/api/photos',
  scripts: {
    stepRamp: 'loadtests/photos/step-ramp.js',
    throughput: 'loadtests/photos/knee-throughput.js',
  },
  // Away from the services' 3000, ./faultline up photos' 18110…, and the other bench ports
  // (shortener 3300, hello-world 3310, ratelimiter 3320, feed 3330/3331, notifications 3340).
  port: 3350,
  seedCount: { knee: 1, bench: 1 },
  ceiling: {
    targetRatio: 0.1,
    why: 'an upload is a multipart parse, a streamed S3 PutObject, a Postgres insert and a BullMQ add, where the hello-world answers a constant; the image processing behind it shares the same two cores',
  },
  p99ObjectiveMs: 100,
  start: (options) => startPhotos(options),
  // The requests need no keys: each one is a fresh owner's upload.
  seed: async () => [],
  metrics: {
    readyJobs: { kind: 'counter', select: [named('photos_jobs_total', { lane: 'new', outcome: 'ready' })] },
    newWaiting: {
      kind: 'gauge',
      select: [named('photos_bench_queue_jobs', { lane: 'new', state: 'waiting' })],
    },
    oldestNewWaitS: { kind: 'gauge', select: [named('photos_bench_oldest_new_wait_seconds')] },
  },
  signals: [
    {
      id: 'new-lane-backlog',
      component: `the processing worker (over ${newLaneBacklogJobs} new uploads waiting for a job slot: jobs arrive faster than they are processed)`,
      threshold: newLaneBacklogJobs,
      unit: 'jobs',
      value: (s) => s.system.newWaiting ?? null,
    },
    {
      id: 'new-lane-wait',
      component: `the processing worker (the oldest new upload waited over the lane's ${newLaneSloSeconds} s SLO for its thumbnail)`,
      threshold: newLaneSloSeconds,
      unit: 's',
      value: (s) => s.system.oldestNewWaitS ?? null,
    },
    {
      id: 'postgres-cpu',
      component: 'Postgres (CPU of its processes: photo inserts, status updates)',
      threshold: postgresCores,
      unit: 'cores',
      value: (s) => s.cpuByGroup.postgres ?? null,
    },
  ],
  stepColumns: [
    ['readyJobs', 'processed/s max'],
    ['newWaiting', 'jobs waiting max'],
    ['oldestNewWaitS', 'oldest wait s max'],
  ],
  runCounters: [['readyJobs', 'processed']],
})
