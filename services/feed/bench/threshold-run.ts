/**
 * One threshold of the threshold benchmark: the state reset (threshold-state.ts), the API, relay
 * and worker started with FANOUT_CELEBRITY_THRESHOLD (bench-target's startFeed, as fanout.ts),
 * then
 *   write side  the drawn posts at a steady rate (fanout-runs' measureAtRate, open model) until
 *               the worker applied them all: deliveries and worker CPU per post, post → delivered
 *               p50/p99 over every post (a pulled post is "delivered" once its author's recent set
 *               has it: readers see it from then on), the timelines' Redis memory afterwards;
 *   read side   the readers' first timeline page at a fixed rate (read-latency's k6 run: the rate
 *               given as half of twice itself), p50/p99, API CPU per read, and the followed
 *               celebrities each reader's page merges.
 * The processes are stopped before it returns, whatever happened.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { startFeed } from '../src/bench-target.ts'
import { deliveredBucketsSeconds } from '../src/fanout/metrics.ts'
import { measureAtRate } from './fanout-runs.ts'
import { buckets, cpuSeconds, growth, type Scrape, scrape } from './process-metrics.ts'
import { measureReadAtHalfKnee, type ReadLatencyResult } from './read-latency.ts'
import {
  meanFollowedCelebrities,
  memoryUsage,
  recentSetKeys,
  resetThresholdState,
  type StateClients,
  thresholdIsolationEnv,
  timelineKeys,
} from './threshold-state.ts'
import { histogramCount, histogramQuantile } from './worker-metrics.ts'

export interface ThresholdRunInput {
  label: string
  threshold: number
  authorsPulled: number
  /** uniformDeliveriesPerPost at this threshold (a model from the graph, reported alongside). */
  uniformMixDeliveriesPerPost: number
  clients: StateClients
  userIds: readonly string[]
  /** The author of each post, the same for every threshold. */
  postAuthors: readonly string[]
  readers: readonly string[]
  postRate: number
  readRate: number
  readSeconds: number
  timeoutMs: number
  port: number
  dir: string
  log: (line: string) => void
}

export interface ThresholdRow {
  label: string
  threshold: number
  authorsPulled: number
  posts: { sent: number; accepted: number; applied: number }
  deliveries: number
  deliveriesPerPost: number
  /** What a uniform mix of authors would average (from the graph, not measured). */
  uniformMixDeliveriesPerPost: number
  /** Worker CPU over the posting window, per post, with the idle worker's CPU over that window taken off. */
  workerCpuMsPerPost: number
  /** The same without the idle correction. */
  workerRawCpuMsPerPost: number
  workerIdleCpuMsPerSec: number
  deliveredP50S: number | null
  deliveredP99S: number | null
  /** Regular (pushed) authors only, as fanout.ts reports it. */
  regularDeliveredP99S: number | null
  /** Sum of MEMORY USAGE over every home timeline: after the posts, and built empty before them. */
  timelineBytes: number
  emptyTimelineBytes: number
  /** The posting authors' recent sets (written for every post, pushed or pulled). */
  recentSetBytes: number
  reads: Omit<ReadLatencyResult, 'kneePerSec' | 'kneeSource'> & {
    /** API process CPU over the read run (warming included) ÷ the timeline pages it served. */
    apiCpuUsPerRead: number
    pages: number
  }
  celebritiesMergedPerRead: number
}

const idleWindowMs = 2000

export async function runThreshold(input: ThresholdRunInput): Promise<ThresholdRow> {
  const { clients, log } = input
  const dir = join(input.dir, `threshold-${input.threshold}`)
  mkdirSync(dir, { recursive: true })
  const built = await resetThresholdState(clients, input.userIds)
  const emptyTimelineBytes = await memoryUsage(clients.redis, timelineKeys(input.userIds))
  log(`${input.label}: ${built} timelines built empty; starting the feed`)
  const system = await startFeed(
    { port: input.port, logDir: dir, env: { LOG_LEVEL: 'warn' } },
    { ...thresholdIsolationEnv, FANOUT_CELEBRITY_THRESHOLD: String(input.threshold) },
  )
  try {
    const urls = { api: system.baseUrl, worker: system.workerUrl }
    const idleStart = await scrape(`${urls.worker}/metrics`)
    await sleep(idleWindowMs)
    const before = await scrape(`${urls.worker}/metrics`)
    const idleCpuPerMs = (cpuSeconds(before) - cpuSeconds(idleStart)) / (before.tMs - idleStart.tMs)
    log(`${input.label}: ${input.postAuthors.length} posts at ${input.postRate}/s`)
    const atRate = await measureAtRate(
      urls,
      { authors: [...input.postAuthors], followersOf: new Map(), users: [] },
      {
        ratePerSec: input.postRate,
        seconds: input.postAuthors.length / input.postRate,
        maxInFlight: 64,
        timeoutMs: input.timeoutMs,
        authorOf: (i) => input.postAuthors[i % input.postAuthors.length] as string,
      },
    )
    const after = await scrape(`${urls.worker}/metrics`)
    const write = writeSide(before, after, idleCpuPerMs)
    const timelineBytes = await memoryUsage(clients.redis, timelineKeys(input.userIds))
    const recentSetBytes = await memoryUsage(clients.redis, recentSetKeys([...new Set(input.postAuthors)]))
    const apiBefore = await scrape(system.metricsUrl as string)
    const reads = await measureReadAtHalfKnee({
      apiUrl: urls.api,
      users: input.readers,
      readKnee: input.readRate * 2,
      durationS: input.readSeconds,
      dir,
      log: (line) => log(`${input.label}: ${line}`),
    })
    const apiAfter = await scrape(system.metricsUrl as string)
    const pages = growth(apiBefore, apiAfter, 'feed_timeline_reads_total')
    return {
      label: input.label,
      threshold: input.threshold,
      authorsPulled: input.authorsPulled,
      posts: { sent: atRate.sent, accepted: atRate.accepted, applied: write.applied },
      deliveries: write.deliveries,
      deliveriesPerPost: write.applied > 0 ? write.deliveries / write.applied : Number.NaN,
      uniformMixDeliveriesPerPost: input.uniformMixDeliveriesPerPost,
      workerCpuMsPerPost: write.applied > 0 ? (write.netCpuS * 1000) / write.applied : Number.NaN,
      workerRawCpuMsPerPost: write.applied > 0 ? (write.cpuS * 1000) / write.applied : Number.NaN,
      workerIdleCpuMsPerSec: idleCpuPerMs * 1e6,
      deliveredP50S: write.p50,
      deliveredP99S: write.p99,
      regularDeliveredP99S: atRate.p99Seconds,
      timelineBytes,
      emptyTimelineBytes,
      recentSetBytes,
      reads: {
        ratePerSec: reads.ratePerSec,
        achievedPerSec: reads.achievedPerSec,
        p50Ms: reads.p50Ms,
        p99Ms: reads.p99Ms,
        failedRate: reads.failedRate,
        dropped: reads.dropped,
        apiCpuUsPerRead:
          pages > 0 ? ((cpuSeconds(apiAfter) - cpuSeconds(apiBefore)) * 1e6) / pages : Number.NaN,
        pages,
      },
      celebritiesMergedPerRead: await meanFollowedCelebrities(clients.pg, input.readers, input.threshold),
    }
  } finally {
    await system.stop()
  }
}

/** The worker's growth over the posting window (posts sent until every one was applied). */
function writeSide(before: Scrape, after: Scrape, idleCpuPerMs: number) {
  const name = 'feed_post_delivered_seconds'
  const b = buckets(before, name)
  const a = buckets(after, name)
  // A histogram with no observation yet has no bucket series: its bounds are the worker's.
  for (const le of [...deliveredBucketsSeconds, Number.POSITIVE_INFINITY]) if (!b.has(le)) b.set(le, 0)
  const cpuS = cpuSeconds(after) - cpuSeconds(before)
  return {
    applied: histogramCount(b, a),
    deliveries: growth(before, after, 'feed_fanout_deliveries_total'),
    cpuS,
    netCpuS: Math.max(0, cpuS - idleCpuPerMs * (after.tMs - before.tMs)),
    p50: histogramQuantile(b, a, 0.5),
    p99: histogramQuantile(b, a, 0.99),
  }
}
