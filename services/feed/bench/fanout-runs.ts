/**
 * The fan-out benchmark's three measurements over one graph (fanout-graph.ts):
 *
 *   ceiling   the same Redis client kind and TimelineStore the worker uses, pushing the same capped
 *             inserts (pushToActive: the author's own timeline, then the followers FANOUT_PIPELINE
 *             at a time, one post after another) with nothing else: no Postgres, no Kafka, no HTTP;
 *   burst     the same number of posts through the API as fast as it accepts them, delivered by
 *             the real path (outbox → relay → Kafka → worker), counted by the worker's
 *             feed_fanout_deliveries_total: deliveries/s over the middle 80 % of the deliveries
 *             (the relay's first poll and the last stragglers excluded), and the API's posts/s;
 *   at-rate   posts at a fixed rate (half the max posting rate) for a while: post → delivered
 *             p50/p99 from the worker's feed_post_delivered_seconds{class="regular"} histogram.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { firstPostIdAt } from '../src/ids.ts'
import type { TimelineStore } from '../src/timeline-store.ts'
import type { FanoutGraph } from './fanout-graph.ts'
import { histogramCount, histogramQuantile, scrapeWorker, type WorkerCounters } from './worker-metrics.ts'

export interface CeilingResult {
  posts: number
  deliveries: number
  seconds: number
  deliveriesPerSec: number
}

/** Pushes `posts` synthetic post ids (authors round robin) exactly as the worker's apply does. */
export async function measureCeiling(
  store: TimelineStore,
  graph: FanoutGraph,
  posts: number,
  pipeline: number,
): Promise<CeilingResult> {
  const baseId = firstPostIdAt(Date.now())
  let deliveries = 0
  const started = performance.now()
  for (let i = 0; i < posts; i++) {
    const author = graph.authors[i % graph.authors.length] as string
    const postId = String(baseId + i)
    const own = await store.pushToActive([author], author, postId, 1)
    const pushed = await store.pushToActive(graph.followersOf.get(author) ?? [], author, postId, pipeline)
    deliveries += own.added + own.already + own.inactive + pushed.added + pushed.already + pushed.inactive
  }
  const seconds = (performance.now() - started) / 1000
  return { posts, deliveries, seconds, deliveriesPerSec: deliveries / seconds }
}

/** POST one post; resolves with whether the API answered 201. */
async function post(apiUrl: string, author: string, text: string): Promise<boolean> {
  try {
    const res = await fetch(`${apiUrl}/api/users/${author}/posts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text }),
      signal: AbortSignal.timeout(10_000),
    })
    await res.arrayBuffer()
    return res.status === 201
  } catch {
    return false
  }
}

/**
 * Scrapes the worker every `everyMs` until `done(latest)` or `timeoutMs`; returns every scrape.
 * Throws on timeout with the last progress, so a stuck pipeline is a failed run, not a number.
 */
async function follow(
  workerUrl: string,
  done: (c: WorkerCounters) => boolean,
  timeoutMs: number,
  everyMs = 100,
): Promise<WorkerCounters[]> {
  const series: WorkerCounters[] = []
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const c = await scrapeWorker(`${workerUrl}/metrics`)
    series.push(c)
    if (done(c)) return series
    if (Date.now() > deadline) {
      throw new Error(
        `the worker did not finish within ${timeoutMs / 1000} s (deliveries at ${c.deliveries})`,
      )
    }
    await sleep(everyMs)
  }
}

/** When the series crossed `target` deliveries, interpolated between scrapes (epoch ms). */
function crossing(series: readonly WorkerCounters[], target: number): number {
  for (let i = 1; i < series.length; i++) {
    const a = series[i - 1] as WorkerCounters
    const b = series[i] as WorkerCounters
    if (b.deliveries >= target) {
      const span = b.deliveries - a.deliveries
      return span <= 0 ? b.tMs : a.tMs + ((b.tMs - a.tMs) * (target - a.deliveries)) / span
    }
  }
  return (series.at(-1) as WorkerCounters).tMs
}

export interface BurstResult {
  posts: number
  accepted: number
  apiPostsPerSec: number
  expectedDeliveries: number
  deliveries: number
  /** Over the middle 80 % of the deliveries. */
  deliveriesPerSec: number
  /** First post sent → last delivery. */
  endToEndSeconds: number
  /** Posts whose fan-out completed per second (deliveries/s ÷ deliveries per post). */
  fanoutPostsPerSec: number
}

/** `posts` posts through the API, `concurrency` at a time, authors round robin; the worker delivers. */
export async function measureBurst(
  urls: { api: string; worker: string },
  graph: FanoutGraph,
  posts: number,
  options: { concurrency: number; timeoutMs: number },
): Promise<BurstResult> {
  const before = await scrapeWorker(`${urls.worker}/metrics`)
  const perPost = (author: string) => (graph.followersOf.get(author)?.length ?? 0) + 1
  let expected = 0
  let accepted = 0
  let next = 0
  let answered = false
  const startedMs = Date.now()
  const lane = async () => {
    while (next < posts) {
      const i = next++
      const author = graph.authors[i % graph.authors.length] as string
      if (await post(urls.api, author, `fanout burst ${i}`)) {
        accepted++
        expected += perPost(author)
      }
    }
  }
  const following = (async () => {
    // Started with the posts, so the first deliveries are seen as they happen.
    await sleep(50)
    return follow(
      urls.worker,
      (c) => answered && c.deliveries - before.deliveries >= expected,
      options.timeoutMs,
    )
  })()
  await Promise.all(Array.from({ length: options.concurrency }, lane))
  answered = true
  const acceptedMs = Date.now()
  const series = [before, ...(await following)]
  const target = (share: number) => before.deliveries + share * expected
  const t10 = crossing(series, target(0.1))
  const t90 = crossing(series, target(0.9))
  const deliveriesPerSec = t90 > t10 ? (0.8 * expected) / ((t90 - t10) / 1000) : Number.NaN
  const meanPerPost = accepted > 0 ? expected / accepted : 1
  return {
    posts,
    accepted,
    apiPostsPerSec: accepted / ((acceptedMs - startedMs) / 1000),
    expectedDeliveries: expected,
    deliveries: (series.at(-1) as WorkerCounters).deliveries - before.deliveries,
    deliveriesPerSec,
    endToEndSeconds: (crossing(series, target(1)) - startedMs) / 1000,
    fanoutPostsPerSec: deliveriesPerSec / meanPerPost,
  }
}

export interface AtRateResult {
  ratePerSec: number
  seconds: number
  sent: number
  accepted: number
  delivered: number
  p50Seconds: number | null
  p99Seconds: number | null
}

/**
 * Posts at `ratePerSec` for `seconds` (authors at random, at most `maxInFlight` unanswered), waits
 * for their fan-out to finish, and reads post → delivered from the worker's histogram growth.
 */
export async function measureAtRate(
  urls: { api: string; worker: string },
  graph: FanoutGraph,
  options: {
    ratePerSec: number
    seconds: number
    maxInFlight: number
    timeoutMs: number
    /** The author of post `i` (default: one of `graph.authors` at random), e.g. a fixed mix drawn in advance. */
    authorOf?: (i: number) => string
  },
): Promise<AtRateResult> {
  const before = await scrapeWorker(`${urls.worker}/metrics`)
  const intervalMs = 1000 / options.ratePerSec
  const total = Math.max(1, Math.round(options.ratePerSec * options.seconds))
  const startedMs = performance.now()
  const inFlight = new Set<Promise<void>>()
  let accepted = 0
  for (let i = 0; i < total; i++) {
    // An open model: each post leaves on its schedule, whatever the previous ones are doing.
    const due = startedMs + i * intervalMs
    const wait = due - performance.now()
    if (wait > 0) await sleep(wait)
    if (inFlight.size >= options.maxInFlight) await Promise.race(inFlight)
    const author =
      options.authorOf?.(i) ?? (graph.authors[Math.floor(Math.random() * graph.authors.length)] as string)
    const p: Promise<void> = post(urls.api, author, `fanout at-rate ${i}`).then((ok) => {
      if (ok) accepted++
      inFlight.delete(p)
    })
    inFlight.add(p)
  }
  await Promise.all(inFlight)
  const series = await follow(
    urls.worker,
    (c) => c.created - before.created >= accepted,
    options.timeoutMs,
    250,
  )
  const after = series.at(-1) as WorkerCounters
  return {
    ratePerSec: options.ratePerSec,
    seconds: options.seconds,
    sent: total,
    accepted,
    delivered: histogramCount(before.deliveredBuckets, after.deliveredBuckets),
    p50Seconds: histogramQuantile(before.deliveredBuckets, after.deliveredBuckets, 0.5),
    p99Seconds: histogramQuantile(before.deliveredBuckets, after.deliveredBuckets, 0.99),
  }
}
