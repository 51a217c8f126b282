/**
 * pm15's fault, timed against a batch: a burst of posts by the wide authors (each a fan-out to the
 * whole reader pool) is made through the API and relayed in one send, and worker-1 is stopped
 * (SIGSTOP, the lab fleet's signal) as soon as its own metrics show it has applied one of them —
 * it is then in the middle of a Kafka batch with more of the burst to go — and killed a few
 * seconds later.
 *
 * Why this timing makes the naive loss reliable: naive, a worker commits a batch's offsets when
 * the batch arrives, before applying any of it (services/feed/src/fanout/consumer.ts). Stopped
 * mid-batch and killed, it leaves committed messages nobody applied; the partition's next owner
 * starts after them. A stop at a random moment would often find the worker idle or between
 * batches (nothing lost); a stop right after it applied a burst post finds it with the rest of
 * its batch — several posts of thousands of deliveries each — still to apply.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { type Action, action, type FaultContext, type Mode, parsePrometheusText } from '@faultline/lab'

export interface StopRecord {
  burstPosts: number
  /** Deliveries worker-1 had made before the burst, and when it was stopped. */
  deliveriesBefore: number
  deliveriesAtStop: number
  /** Seconds the relay was held while the burst was posted. */
  heldS: number
  /** Seconds from the burst's first post to the stop. */
  stoppedAfterS: number
  killed: boolean
}

const records = new Map<Mode, StopRecord[]>()

export function startRecording(mode: Mode): void {
  records.set(mode, [])
}

export function stopsOf(mode: Mode): StopRecord[] {
  return records.get(mode) ?? []
}

/** Sum of a counter on one instance's /metrics, or undefined when it did not answer. */
async function counterOf(url: string, name: string): Promise<number | undefined> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(500) })
    if (res.status !== 200) return undefined
    return parsePrometheusText(await res.text())
      .filter((s) => s.name === name)
      .reduce((sum, s) => sum + s.value, 0)
  } catch {
    return undefined
  }
}

async function postAll(base: string, authors: readonly string[], signal: AbortSignal): Promise<number> {
  const results = await Promise.allSettled(
    authors.map(async (author, i) => {
      const res = await fetch(`${base}/api/users/${author}/posts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: `burst post ${i}` }),
        signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]),
      })
      await res.arrayBuffer()
      if (res.status !== 201) throw new Error(`HTTP ${res.status}`)
    }),
  )
  return results.filter((r) => r.status === 'fulfilled').length
}

/**
 * Posts one post by each wide author while the relay is held, waits until worker-1 has applied at
 * least one of them (its deliveries jumped by `minJump` between two readings), SIGSTOPs it, and
 * `killAfterS` later SIGKILLs it (the lab fleet's kill) — the stop and the kill in one action, so
 * the kill always comes that long after the stop however long the burst took to reach worker-1.
 * Healed at `until` by starting worker-1 again (it rejoins the group); at cleanup, nothing.
 */
export function burstStopThenKill(
  wideAuthorsOf: (mode: Mode) => readonly string[],
  o: { minJump: number; killAfterS: number },
): Action {
  return action(
    `a post by every wide author (the relay held meanwhile), SIGSTOP worker-1 as soon as it has applied one, SIGKILL it ${o.killAfterS} s later`,
    async (ctx) => {
      const worker = ctx.fleet.instance('worker', 1)
      const workerUrl = ctx.url('worker', 1)
      const deliveriesBefore = await counterOf(workerUrl, 'feed_fanout_deliveries_total')
      if (deliveriesBefore === undefined) throw new Error('worker-1 does not answer /metrics')
      const began = Date.now()
      const posted = await withRelayHeld(ctx, () =>
        postAll(ctx.url('api', 0), wideAuthorsOf(ctx.mode), ctx.signal),
      )
      const heldS = (Date.now() - began) / 1000
      const deliveriesAtStop = await waitForBurstPost(ctx, workerUrl, o.minJump)
      ctx.fleet.signal(worker, 'SIGSTOP')
      const record: StopRecord = {
        burstPosts: posted,
        deliveriesBefore,
        deliveriesAtStop,
        heldS,
        stoppedAfterS: (Date.now() - began) / 1000,
        killed: false,
      }
      stopsOf(ctx.mode).push(record)
      await sleep(o.killAfterS * 1000, undefined, { signal: ctx.signal }).catch(() => {})
      await ctx.fleet.kill(worker)
      record.killed = true
      return {
        note:
          `${posted} burst posts (relay held ${heldS.toFixed(2)} s); worker-1 stopped ${record.stoppedAfterS.toFixed(2)} s later, ` +
          `after ${deliveriesAtStop - deliveriesBefore} deliveries of it; killed ${o.killAfterS} s after that`,
        heal: async (reason) => {
          if (reason === 'cleanup') return undefined
          await ctx.fleet.restart(worker)
          return 'restarted worker-1'
        },
      }
    },
  )
}

/**
 * Holds the relay (SIGSTOP) while `fn` runs, so what it commits is published in one send and each
 * partition's next batch carries several burst posts; posted one by one while the relay polls
 * every 20 ms, the burst would reach Kafka over several sends and a batch would hold one or two.
 */
async function withRelayHeld<T>(ctx: FaultContext, fn: () => Promise<T>): Promise<T> {
  const relay = ctx.fleet.instance('relay', 0)
  ctx.fleet.signal(relay, 'SIGSTOP')
  try {
    return await fn()
  } finally {
    ctx.fleet.signal(relay, 'SIGCONT')
  }
}

/**
 * Polls worker-1's deliveries every 10 ms until one reading grew by at least `minJump` over the
 * one just before it: a burst post's whole fan-out is counted at once when it is done, while the
 * steady posts' few dozen inserts each could never add up to that between two readings. A reading
 * that comes more than 200 ms after the previous one (the worker slow to answer) only starts a
 * new pair, so a slow scrape cannot pass off seconds of steady posts as a jump (at most 20 s).
 */
async function waitForBurstPost(ctx: FaultContext, url: string, minJump: number): Promise<number> {
  const giveUpAt = Date.now() + 20_000
  let previous: { value: number; atMs: number } | undefined
  while (Date.now() < giveUpAt && !ctx.signal.aborted) {
    const value = await counterOf(url, 'feed_fanout_deliveries_total')
    const atMs = Date.now()
    if (value !== undefined) {
      if (previous && atMs - previous.atMs <= 200 && value - previous.value >= minJump) return value
      previous = { value, atMs }
    }
    await sleep(10)
  }
  throw new Error(`worker-1 did not apply a burst post within 20 s (no jump of ${minJump} deliveries)`)
}
