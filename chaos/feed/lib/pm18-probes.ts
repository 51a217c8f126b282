/**
 * pm18's measurements, taken by the experiment itself while the load runs:
 *
 * - **Delivery probes.** A few probe authors (regular accounts, a few dozen followers each) post
 *   through the API every `everyMs`; each probe post is then looked for in the home timeline of one
 *   of its author's followers in Redis (the fixture's key builder, read directly) every 5 ms until
 *   it is there. Post → delivered is from the post's `createdAt` (the millisecond Postgres stamped
 *   it with, the same clock as this process) to the first reading that finds it: the end-to-end
 *   path — commit, relay, Kafka, the fan-out worker's queue and its Redis pipeline. The worker's
 *   own histogram (`feed_post_delivered_seconds`) measures the same span, but its buckets are
 *   2–2.5× apart below 100 ms, too coarse to tell an idle p99 from 1.5 times it.
 * - **Celebrity posts.** The timeline's fault action posts as the celebrity; the celebrity's post
 *   is then looked for through the API (`GET /api/users/:id/timeline`, which merges a followed
 *   celebrity's recent posts when hybrid fan-out is on) in the timelines of a few followers — the
 *   ones with the highest ids, which a naive push reaches last — every 100 ms, one request per
 *   follower for every pending post at once. Visible = every sampled follower sees it.
 *
 * Pollers batch their reads (one Redis pipeline, one page per follower per round), so a naive
 * backlog with many pending probes costs the machine no more than a quiet run.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { FeedFixture } from '@faultline/feed/fixture'
import { type Action, action, type FaultContext, type Mode } from '@faultline/lab'

export interface DeliveryProbe {
  postId: string
  /** The follower whose timeline is read. */
  followerId: string
  createdAtMs: number
  /** When it was posted, seconds since the probes started (≈ the load's start). */
  tS: number
  /** Post → delivered, or post → the end of the probing when it never arrived (`censored`). */
  deliveredMs?: number
  censored?: boolean
}

export interface CelebrityPost {
  postId: string
  createdAtMs: number
  tS: number
  seenBy: Set<string>
  visibleMs?: number
  censored?: boolean
}

export interface Pm18Plan {
  api: (ctx: FaultContext) => string
  /** Probe authors, each with the follower whose timeline is read. */
  probes: { authorId: string; followerId: string }[]
  celebrityId: string
  /** Followers of the celebrity whose timelines are read through the API. */
  watchers: string[]
}

export class Pm18Recorder {
  readonly probes: DeliveryProbe[] = []
  readonly celebrity: CelebrityPost[] = []
  readonly errors: string[] = []
  startMs = Date.now()
  plan: Pm18Plan | undefined

  sinceStartS(): number {
    return (Date.now() - this.startMs) / 1000
  }
}

const recorders = new Map<Mode, Pm18Recorder>()

/** A fresh recorder for the mode, with what setup seeded (setup calls it). */
export function startRecording(mode: Mode, plan: Pm18Plan): Pm18Recorder {
  const recorder = new Pm18Recorder()
  recorder.plan = plan
  recorders.set(mode, recorder)
  return recorder
}

export function recorderOf(mode: Mode): Pm18Recorder {
  const recorder = recorders.get(mode)
  if (!recorder?.plan) throw new Error(`pm18: nothing was recorded in ${mode} mode (setup did not run)`)
  return recorder
}

function planOf(recorder: Pm18Recorder): Pm18Plan {
  if (!recorder.plan) throw new Error('pm18: no plan recorded')
  return recorder.plan
}

interface CreatedPost {
  id: string
  createdAt: string
}

/** POST /api/users/:id/posts; the 201's id and createdAt. */
export async function postAs(
  base: string,
  authorId: string,
  text: string,
  signal?: AbortSignal,
): Promise<CreatedPost> {
  const res = await fetch(`${base}/api/users/${authorId}/posts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
    signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(5000)]) : AbortSignal.timeout(5000),
  })
  const body = await res.text()
  if (res.status !== 201)
    throw new Error(`POST /api/users/${authorId}/posts: HTTP ${res.status} ${body.slice(0, 200)}`)
  return JSON.parse(body) as CreatedPost
}

/** Probe posts stop being awaited this long after the load ends; the rest count as censored. */
const drainWaitMs = 8000
const redisPollMs = 5
const apiPollMs = 100

/**
 * The probes for the whole load (`at: 0`, healed when the load ends): probe posts every
 * `everyMs`, their delivery looked for in Redis, and the visibility of the celebrity's posts
 * (which `celebrityPosts` makes) looked for through the API.
 */
export function measureDelivery(fixture: FeedFixture, everyMs: number): Action {
  return action(
    `probe posts every ${everyMs} ms, their delivery read from Redis every ${redisPollMs} ms; the celebrity's posts read through the API every ${apiPollMs} ms`,
    async (ctx) => {
      const recorder = recorderOf(ctx.mode)
      const plan = planOf(recorder)
      recorder.startMs = Date.now()
      const stopPosting = new AbortController()
      const stopPolling = new AbortController()
      const posting = postProbes(ctx, recorder, plan, everyMs, stopPosting.signal)
      const polling = Promise.all([
        pollDeliveries(ctx, fixture, recorder, stopPolling.signal),
        pollCelebrityVisibility(ctx, recorder, plan, stopPolling.signal),
      ])
      return async () => {
        stopPosting.abort()
        await posting
        const giveUpAt = Date.now() + drainWaitMs
        while (Date.now() < giveUpAt && pending(recorder) > 0) await sleep(50)
        stopPolling.abort()
        await polling
        const censored = censorPending(recorder)
        return `${recorder.probes.length} probe posts, ${recorder.celebrity.length} celebrity posts measured; ${censored} still undelivered ${drainWaitMs / 1000} s after the load`
      }
    },
  )
}

async function postProbes(
  ctx: FaultContext,
  recorder: Pm18Recorder,
  plan: Pm18Plan,
  everyMs: number,
  stop: AbortSignal,
): Promise<void> {
  const base = plan.api(ctx)
  for (let n = 0; !stop.aborted; n++) {
    const probe = plan.probes[n % plan.probes.length] as Pm18Plan['probes'][number]
    const tS = recorder.sinceStartS()
    try {
      const post = await postAs(base, probe.authorId, `probe ${n}`, stop)
      recorder.probes.push({
        postId: post.id,
        followerId: probe.followerId,
        createdAtMs: Date.parse(post.createdAt),
        tS,
      })
    } catch (err) {
      if (!stop.aborted)
        recorder.errors.push(`probe post: ${err instanceof Error ? err.message : String(err)}`)
    }
    // A fixed rate: the next post is due `everyMs` after the previous one was due, not after it returned.
    const dueMs = recorder.startMs + (n + 1) * everyMs
    await sleep(Math.max(0, dueMs - Date.now()), undefined, { signal: stop }).catch(() => {})
  }
}

async function pollDeliveries(
  ctx: FaultContext,
  fixture: FeedFixture,
  recorder: Pm18Recorder,
  stop: AbortSignal,
): Promise<void> {
  while (!stop.aborted) {
    const waiting = recorder.probes.filter((p) => p.deliveredMs === undefined)
    if (waiting.length > 0) {
      const pipe = ctx.redis.pipeline()
      for (const p of waiting) pipe.zscore(fixture.keys.timeline(p.followerId), p.postId)
      const results = (await pipe.exec().catch(() => null)) ?? []
      const now = Date.now()
      waiting.forEach((p, i) => {
        const [err, score] = results[i] ?? [null, null]
        if (!err && score !== null) p.deliveredMs = Math.max(0, now - p.createdAtMs)
      })
    }
    await sleep(redisPollMs)
  }
}

async function pollCelebrityVisibility(
  ctx: FaultContext,
  recorder: Pm18Recorder,
  plan: Pm18Plan,
  stop: AbortSignal,
): Promise<void> {
  const base = plan.api(ctx)
  while (!stop.aborted) {
    const waiting = recorder.celebrity.filter((p) => p.visibleMs === undefined)
    if (waiting.length > 0) {
      await Promise.all(
        plan.watchers.map(async (watcher) => {
          const ids = await timelineIds(base, watcher).catch(() => undefined)
          if (ids) for (const p of waiting) if (ids.has(p.postId)) p.seenBy.add(watcher)
        }),
      )
      const now = Date.now()
      for (const p of waiting) if (p.seenBy.size === plan.watchers.length) p.visibleMs = now - p.createdAtMs
    }
    await sleep(apiPollMs)
  }
}

/** The ids on the first page (50 newest) of a home timeline, read through the API. */
async function timelineIds(base: string, userId: string): Promise<Set<string>> {
  const res = await fetch(`${base}/api/users/${userId}/timeline?limit=50`, {
    signal: AbortSignal.timeout(2000),
  })
  if (res.status !== 200 && res.status !== 206) throw new Error(`timeline of ${userId}: HTTP ${res.status}`)
  const body = (await res.json()) as { items: { id: string }[] }
  return new Set(body.items.map((p) => p.id))
}

function pending(recorder: Pm18Recorder): number {
  return (
    recorder.probes.filter((p) => p.deliveredMs === undefined).length +
    recorder.celebrity.filter((p) => p.visibleMs === undefined).length
  )
}

/** What never arrived counts with its age at the end of the probing, flagged censored. */
function censorPending(recorder: Pm18Recorder): number {
  const now = Date.now()
  let censored = 0
  for (const p of recorder.probes) {
    if (p.deliveredMs !== undefined) continue
    p.deliveredMs = now - p.createdAtMs
    p.censored = true
    censored++
  }
  for (const p of recorder.celebrity) {
    if (p.visibleMs !== undefined) continue
    p.visibleMs = now - p.createdAtMs
    p.censored = true
    censored++
  }
  return censored
}

/** The timeline's fault: the celebrity posts once through the API (its visibility is probed above). */
export function celebrityPosts(): Action {
  return action('the celebrity posts through the API', async (ctx) => {
    const recorder = recorderOf(ctx.mode)
    const plan = planOf(recorder)
    const tS = recorder.sinceStartS()
    const post = await postAs(
      plan.api(ctx),
      plan.celebrityId,
      `celebrity post at ${tS.toFixed(1)} s`,
      ctx.signal,
    )
    recorder.celebrity.push({
      postId: post.id,
      createdAtMs: Date.parse(post.createdAt),
      tS,
      seenBy: new Set(),
    })
    return { note: `post ${post.id}` }
  })
}
