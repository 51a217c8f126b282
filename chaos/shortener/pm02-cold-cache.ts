/**
 * pm02 — cold cache under steady load (Slack, 2022-02-22).
 *
 * A warm cache absorbs almost every redirect; Postgres is sized for the misses of a warm cache,
 * not for the whole load. Mid-run the cache Redis is flushed: every redirect now misses and the
 * misses fan out to Postgres, far more than it can answer. Naive (no single-flight, no admission
 * limit), every miss queues for a pool connection; once the queue is longer than a fill's
 * deadline, every fill that finally reaches Postgres is already past its deadline and is thrown
 * away — the work is done, the cache is not refilled, and the next request misses again. The
 * state sustains itself: goodput stays at what the few codes filled in the first moments serve.
 * Hardened, `coldPathLimit` admits only as many fills as Postgres can run at once (the rest get a
 * fast 503), `singleFlight` (per process + cross-instance lease) makes each admitted fill a
 * different code, so every admitted fill completes and the cache warms from the hottest codes down.
 *
 * The load is 1200 redirects/s, about 80% of what the warm system sustains on the 2-core machine
 * while other runs share it (the knee tool, `node packages/bench/src/knee.ts`, measured 1500 req/s
 * at p99 ≤ 10 ms then; 3000 on a quiet machine). The database's capacity is made explicit: 2 instances × PG_POOL_MAX 4 connections, and
 * Postgres answering 100 ms late for the whole run (a Toxiproxy latency toxic added by `setup`
 * once the cache is warm, see lib/cache-db-cost.ts) — about 80 lookups/s for the fleet, so the
 * warm cache must carry more than 90% of the load. On loopback an indexed lookup takes ~1 ms and
 * the machine's CPU, not the database, would be the limit; the toxic puts the limit where it was
 * in the incident. Every fill has a 500 ms deadline (`FILL_TIMEOUT_MS`, both modes; k6 gives up
 * after 1 s): the "timeouts" of "timeouts prevent refill".
 *
 * The CI variant offers 400 redirects/s over the 2000 hottest codes for 36 s, flushes at 8 s and
 * allows 20 s to recover: the same mechanism (400/s is still 5× the DB path), with a margin that
 * holds on a busy machine.
 */
import {
  defineExperiment,
  type Fault,
  flushRedis,
  goodputRecovers,
  type HookContext,
  type Invariant,
  invariant,
  type RunContext,
  UnmeasuredError,
} from '@faultline/lab'
import { fixture } from '@faultline/shortener/fixture'
import shortener from '@faultline/shortener/system'
import { apiUrls } from './lib/api-urls.ts'
import { addDbCost } from './lib/cache-db-cost.ts'

/** Seeded codes are `pm02-1` … `pm02-<keys>` (custom aliases; rank 1 is the hottest). */
const prefix = 'pm02-'
/** Seeded and warmed in both variants; the CI load draws from the hottest `ciKeys` of them. */
const seededKeys = 5000
const ciKeys = 2000
/** Redirects/s: ~80% of the warm knee on a shared machine (full run); the CI variant's is lower. */
const rate = 1200
const ciRate = 400
const dbCostMs = 100
/** Timeline index of the flush. */
const flushFault = 0

/** The codes the load draws from (the CI variant may use fewer than are seeded and warmed). */
function keysOf(ctx: RunContext): number {
  return Number(ctx.experiment.load.env?.KEYS ?? seededKeys)
}

/** The seeded codes, hottest first. */
function codes(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`)
}

/**
 * Seeds `count` links straight into Postgres with the shortener's fixture (ids leased the way the
 * service leases them): thousands of codes through the API would take minutes. They stay between
 * runs; only the missing ones are inserted.
 */
async function seedCodes(ctx: HookContext, count: number): Promise<void> {
  const links = codes(count).map((code, i) => ({ code, url: `https://example.com/pm02/${i + 1}` }))
  const { present } = await fixture.seedLinks(ctx.pg, links)
  ctx.log(`${count} codes seeded (${present} were already there)`)
}

/** GETs every code once (both instances, 32 at a time) so the load starts on a warm cache. */
async function warmCache(ctx: HookContext, count: number): Promise<void> {
  await fixture.redirectEach(apiUrls(ctx), codes(count), { concurrency: 32 })
  ctx.log(`cache warmed: ${count} codes`)
}

/** A counter's growth for a detail line: 'unmeasured' there, so it can never fail the invariant. */
function deltaForDetail(ctx: RunContext, metric: string): number | 'unmeasured' {
  try {
    return ctx.metrics.delta(metric)
  } catch (err) {
    if (err instanceof UnmeasuredError) return 'unmeasured'
    throw err
  }
}

function flushAtS(ctx: RunContext): number {
  const flush = ctx.faults[flushFault]
  if (!flush) throw new Error('no flush on the timeline')
  return flush.fromS
}

/**
 * The lab's `goodputRecovers` (from the first fault, the flush), with the catalog's 60 s for the
 * full run and a shorter bound for the CI variant, plus where the database's work went.
 */
function goodputAfterFlush(withinS: number, ciWithinS: number): Invariant {
  const full = goodputRecovers({ ratio: 0.95, withinS, stableS: 3, op: 'redirect' })
  const ci = goodputRecovers({ ratio: 0.95, withinS: ciWithinS, stableS: 3, op: 'redirect' })
  return {
    name: 'goodput back to 95% of the warm baseline after the flush',
    expected: `within ${withinS} s (CI variant: ${ciWithinS} s), for 3 s in a row`,
    async check(ctx) {
      const result = await (ctx.experiment.variant === 'ci' ? ci : full).check(ctx)
      // Where the database's work went: fills that refilled the cache, or fills thrown away.
      const lookups = deltaForDetail(ctx, 'shortener_db_lookups_total')
      const abandoned = deltaForDetail(ctx, 'shortener_fill_timeouts_total')
      const shed = deltaForDetail(ctx, 'shortener_cold_path_rejected_total')
      const work = `${lookups} fills sent to Postgres, ${abandoned} abandoned at their deadline, ${shed} misses shed by the cold-path limit`
      return { ...result, detail: `${result.detail ?? ''}; ${work}` }
    },
  }
}

function describe(redirectsPerS: number, keys: number, flushAtS: number): string {
  return (
    `${redirectsPerS} redirects/s over ${keys} Zipf-skewed codes on a warm cache. ` +
    `Postgres answers ${dbCostMs} ms late for the whole run (a Toxiproxy latency toxic that setup adds) and each instance has 4 connections, ` +
    `so the DB path carries ~80 lookups/s; every fill has a 500 ms deadline. At ${flushAtS} s the cache Redis is flushed. ` +
    'Naive, misses queue on the pool past their deadline: Postgres works flat out, every fill is thrown away and goodput stays down. ' +
    'Hardened, the cold-path limit admits only what Postgres can finish in time, single-flight makes each fill a different code, and the cache warms back.'
  )
}

const flush = (at: number): Fault => ({ at, action: flushRedis(), label: 'flush the cache Redis' })

const sanity: Invariant[] = [
  invariant(
    'warm baseline serves the offered load',
    '≥ 99% redirects succeed before the flush',
    (ctx) => {
      const sel = ctx.ledger.select({ op: 'redirect', fromS: 1, toS: flushAtS(ctx) })
      if (sel.count === 0) return { holds: false, observed: 'no requests before the flush' }
      const ok = sel.successRatio()
      return { holds: ok >= 0.99, observed: `${(ok * 100).toFixed(2)}% of ${sel.count}` }
    },
    { expect: 'always' },
  ),
  invariant(
    'the flush emptied a warm cache',
    'every seeded code was cached and dropped',
    (ctx) => {
      const event = ctx.events.find(
        (e) => e.fault === flushFault && e.phase === 'inject' && e.status === 'ok',
      )
      const dropped = Number(/^(\d+) keys dropped/.exec(event?.note ?? '')?.[1] ?? 0)
      return {
        holds: dropped >= seededKeys,
        observed: `${dropped} keys dropped (${seededKeys} seeded, ${keysOf(ctx)} in the load)`,
      }
    },
    { expect: 'always' },
  ),
]

export default defineExperiment({
  id: 'pm02',
  slug: 'cold-cache',
  system: shortener,
  title: 'Cold cache under steady load: misses fan out, timeouts prevent refill',
  description: describe(rate, seededKeys, 20),
  services: { api: { instances: 2 } },
  // Both modes: 4 connections per instance, the cold-path bulkhead as wide as the pool, and a
  // fill deadline of 500 ms (the client gives up after 1 s).
  env: { PG_POOL_MAX: '4', COLD_PATH_CONCURRENCY: '4', FILL_TIMEOUT_MS: '500' },
  mitigations: { coldPathLimit: true, singleFlight: true },
  infra: ['toxiproxy', 'postgres', 'redis-cache', 'kafka', 'k6'],
  async reset(ctx) {
    // Each mode starts from an empty cache that setup warms (the flush empties it anyway).
    await ctx.redis.flushdb()
  },
  async setup(ctx) {
    // Both variants seed and warm every code: a hook does not know the variant, and a few
    // thousand redirects take a couple of seconds.
    await seedCodes(ctx, seededKeys)
    await warmCache(ctx, seededKeys)
    await addDbCost(ctx, dbCostMs)
  },
  load: {
    script: 'chaos/shortener/load/pm02-steady-zipf.js',
    durationS: 90,
    env: { RATE: String(rate), KEYS: String(seededKeys), ZIPF_S: '1.0', PREFIX: prefix, TIMEOUT: '1s' },
  },
  timeline: [flush(20)],
  settleS: 1,
  invariants: [goodputAfterFlush(60, 20), ...sanity],
  ci: {
    description: describe(ciRate, ciKeys, 8),
    load: { durationS: 36, env: { RATE: String(ciRate), KEYS: String(ciKeys) } },
    timeline: [flush(8)],
    settleS: 1,
  },
})
