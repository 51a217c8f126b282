/**
 * pm10 — hot-key stampede (Facebook, "Scaling Memcache at Facebook", NSDI'13: leases).
 *
 * One short code takes all the traffic, spread over two API instances. Every few seconds the
 * timeline deletes its Redis entry — a forced expiry. Every redirect that misses before the cache
 * is filled again reads Postgres: naive, that is every request arriving while the first read is in
 * flight (rate × Postgres round trip, on both instances); hardened (`singleFlight`: one read per
 * code per process, plus the cross-instance fill lease in Redis), one instance
 * reads Postgres and every other miss waits for the cache.
 *
 * Postgres answers 50 ms late for the whole run (a Toxiproxy latency toxic added by `setup`, see
 * lib/cache-db-cost.ts): an indexed lookup on loopback takes ~1 ms, so a stampede would last ~1 ms
 * and hold a request or two — the toxic gives the database the cost of a real one (another host,
 * a busy primary) so the window in which misses pile up is as long as it is in production.
 *
 * Invariant (catalog): Postgres fills per key per expiry = growth of `shortener_db_lookups_total`
 * summed over both instances ÷ forced expiries — ≤ 1 hardened; naive it is ≫ 1 (the CI test also
 * asserts > 3). Redirect errors stay ≈ 0 in both modes: a stampede costs the database, not users.
 */
import {
  defineExperiment,
  deleteKeys,
  errorRateBelow,
  type HookContext,
  invariant,
  type RunContext,
} from '@faultline/lab'
import { fixture } from '@faultline/shortener/fixture'
import shortener from '@faultline/shortener/system'
import { addDbCost } from './lib/cache-db-cost.ts'

/** The hot code (a custom alias, so the load script knows it without asking). */
export const hotCode = 'pm10-hot'
/** The hot code's cache entry, which the timeline deletes. */
const linkKey = fixture.keys.link(hotCode)
/** Added to every Postgres round trip for the whole run (see the header). */
const dbCostMs = 50
/** Timeline index of the forced expiries. */
const expiryFault = 0

/** Forced expiries that actually removed the entry (a firing that found no key expired nothing). */
export function forcedExpiries(ctx: Pick<RunContext, 'events'>): number {
  return ctx.events.filter(
    (e) => e.fault === expiryFault && e.phase === 'inject' && e.status === 'ok' && e.note === '1 key deleted',
  ).length
}

/** The hot code's link, cache entry and fill lease of an earlier run go: setup makes it again. */
async function resetHotCode(ctx: HookContext): Promise<void> {
  await fixture.reset(ctx, hotCode)
}

async function createHotCode(ctx: HookContext): Promise<void> {
  // One redirect fills the cache before the "before" scrape, so the counted fills are exactly the
  // ones forced expiries cause.
  await fixture.createLinks([ctx.url('api', 0)], [{ code: hotCode, url: 'https://example.com/pm10/hot' }], {
    warm: true,
  })
  if ((await fixture.cachedCount(ctx.redis, [hotCode])) !== 1)
    throw new Error(`${linkKey} is not in the cache after a redirect`)
  ctx.log(`${hotCode} created and cached`)
  await addDbCost(ctx, dbCostMs)
}

function describe(rate: number, everyS: number): string {
  return (
    `One code at ${rate} req/s over two API instances; its cache entry is deleted every ${everyS} s. Postgres answers ${dbCostMs} ms late for the whole run (a Toxiproxy latency toxic that setup adds). ` +
    'Naive, every redirect that misses before the refill reads Postgres (about rate × round trip per expiry); ' +
    'hardened, single-flight and the cross-instance fill lease make it one read per expiry for the whole fleet.'
  )
}

export default defineExperiment({
  id: 'pm10',
  slug: 'hot-key-stampede',
  system: shortener,
  title: 'Hot-key stampede: one hot code expired again and again',
  description: describe(400, 3),
  services: { api: { instances: 2 } },
  // The miss path's bulkhead (coldPathLimit, pm02's mitigation, on in both modes) lets a fill wait
  // 250 ms for one of its 8 slots. A naive stampede queues ≈ 10–25 Postgres reads of 50 ms per
  // instance at each expiry; when the machine is busy a burst outlasts that wait and the excess is
  // shed with a 503 (26 of 23 972 redirects in a fresh-clone run on 2026-12-05), which pm10 does
  // not study. Waiting up to the load's own 2 s timeout keeps the stampede's cost where this
  // experiment measures it: in Postgres fills, not in errors.
  env: { COLD_PATH_WAIT_MS: '2000' },
  mitigations: { singleFlight: true },
  infra: ['toxiproxy', 'postgres', 'redis-cache', 'kafka', 'k6'],
  reset: resetHotCode,
  setup: createHotCode,
  load: {
    script: 'chaos/shortener/load/pm10-hot-key.js',
    durationS: 60,
    env: { RATE: '400', CODE: hotCode, TIMEOUT: '2s' },
  },
  timeline: [
    { at: 10, until: 56, every: 3, action: deleteKeys(linkKey), label: `expire ${hotCode} (every 3 s)` },
  ],
  settleS: 2,
  invariants: [
    invariant(
      'Postgres fills per key per expiry',
      '≤ 1 (all instances)',
      (ctx) => {
        const fills = ctx.metrics.delta('shortener_db_lookups_total')
        const expiries = forcedExpiries(ctx)
        if (expiries === 0) return { holds: false, observed: 'no forced expiry happened' }
        const perExpiry = fills / expiries
        return {
          holds: perExpiry <= 1,
          observed: `${perExpiry.toFixed(2)} (${fills} fills / ${expiries} expiries)`,
          detail: 'growth of shortener_db_lookups_total summed over the API instances',
        }
      },
      // The chart draws it per second: fills spike at each expiry naive and stay flat hardened.
      { metric: 'shortener_db_lookups_total' },
    ),
    errorRateBelow(0.001, { op: 'redirect', window: 'all', expect: 'always', name: 'redirect errors' }),
    invariant(
      'the hot code was expired as planned',
      'every firing deleted the cached entry',
      (ctx) => {
        const planned = ctx.faults[expiryFault]?.firesS.length ?? 0
        const expiries = forcedExpiries(ctx)
        return { holds: planned > 0 && expiries === planned, observed: `${expiries} of ${planned}` }
      },
      { expect: 'always' },
    ),
  ],
  ci: {
    description: describe(200, 2),
    load: { durationS: 20, env: { RATE: '200' } },
    timeline: [
      { at: 4, until: 19, every: 2, action: deleteKeys(linkKey), label: `expire ${hotCode} (every 2 s)` },
    ],
    settleS: 1,
  },
})
