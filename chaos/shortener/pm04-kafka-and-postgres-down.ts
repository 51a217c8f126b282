/**
 * pm04 — Kafka and Postgres down together (Cloudflare control plane, 2023-11-02: a hidden
 * dependency of the "HA" path on one facility; the data plane survived, analytics were lost).
 *
 * Two API instances and one click worker. 200 codes are created and cached before the load; k6
 * asks for them at a steady rate throughout. Then the Postgres primary and Kafka are stopped
 * together (`infra down`: the processes exit, as when a facility goes dark) and started again
 * later. Postgres is back within a few seconds of its heal (the replica was left running and
 * streams again on its own once the primary is up); Kafka, a JVM, takes longer. After the load
 * the lab waits until the click pipeline is drained: every API spool empty and every event Kafka
 * acknowledged counted by the worker in Postgres.
 *
 * The data plane (a redirect of a cached code) needs neither: Redis answers it and the click is
 * handed to an in-process recorder without waiting. So redirects stay ≥ 99% in both modes. The
 * analytics path is what differs — the `clickSpool` switch (services/shortener/src/clicks/):
 * - naive (off): a batch whose Kafka send fails is dropped (counted in
 *   `shortener_clicks_dropped_total{reason="send_failed"}`), so the clicks of the outage are lost;
 * - hardened (on): failed batches stay in the bounded spool (CLICK_SPOOL_MAX) and are retried with
 *   backoff until Kafka returns; the worker, which retries Postgres the same way, then counts each
 *   of them once (event ids make replays harmless).
 * The spool is the durable one (CLICK_SPOOL_DIR: each event appended to a file before the
 * redirect is answered), and in the middle of the outage one API instance is killed with
 * `kill -9`; it comes back after Postgres (its boot runs the migrations) and publishes what its
 * previous process had spooled. A memory-only spool would lose that instance's share of the
 * outage's clicks. The load goes through the lab's readiness-aware balancer, so the dead instance
 * stops getting traffic within a poll (500 ms) instead of failing half the requests.
 *
 * Invariants: redirects of cached codes ≥ 99% (always); clicks counted in Postgres = redirects
 * k6 saw served (fails naive, holds hardened); no click dropped for lack of spool room and the
 * replica streaming again at the end (always: the run stayed within its bounds and healed).
 */

import { rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import {
  defineExperiment,
  type HookContext,
  infra,
  invariant,
  kill,
  type RunContext,
  service,
  stop,
  successAtLeast,
} from '@faultline/lab'
import { fixture } from '@faultline/shortener/fixture'
import shortener from '@faultline/shortener/system'
import { createAndWarmCodes } from './lib/cached-codes.ts'

/**
 * Codes are custom aliases `pm04-<run>-<n|h>-0000` …: unique per lab run and per mode, so a click
 * event left in Kafka by an earlier (or aborted) run can never be counted for this one.
 */
const codePrefix = `pm04-${Date.now().toString(36)}-`
const codeCount = 200
const instances = 2
/** The bound of each API instance's spool; the outage's clicks must fit (rate × outage ≪ this). */
const spoolMax = 50_000
/** The durable spools: `<dir>/<INSTANCE_ID>`, kept across an instance's restart, emptied per mode. */
const spoolDir = fileURLToPath(new URL('../../.faultline/lab/pm04-click-spool', import.meta.url))

function modeCodePrefix(mode: string): string {
  return `${codePrefix}${mode === 'hardened' ? 'h' : 'n'}-`
}

function code(mode: string, i: number): string {
  return `${modeCodePrefix(mode)}${String(i).padStart(4, '0')}`
}

/** Clicks the worker has counted in Postgres for this mode's codes. */
function clicksCounted(ctx: Pick<HookContext, 'pg' | 'mode'>): Promise<number> {
  return fixture.clicksCounted(ctx.pg, modeCodePrefix(ctx.mode))
}

async function resetCodes(ctx: HookContext): Promise<void> {
  // No instance runs during reset: the previous mode's spool files go with its codes.
  rmSync(spoolDir, { recursive: true, force: true })
  // Every earlier run's codes go (their prefixes differ from this run's), with their counts.
  await fixture.reset(ctx, 'pm04-')
}

/**
 * Creates this mode's codes through the API and redirects each once, so the cache holds them;
 * then waits until the worker has counted those warm-up clicks. The lab's "before" scrape comes
 * right after setup, so `clicks counted − redirects before the load` is exactly the load's clicks.
 */
async function createCodes(ctx: HookContext): Promise<void> {
  const codes = Array.from({ length: codeCount }, (_, i) => code(ctx.mode, i))
  await createAndWarmCodes(ctx, codes, { experiment: 'pm04' })
  const deadline = Date.now() + 60_000
  let counted = await clicksCounted(ctx)
  while (counted < codeCount && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250))
    counted = await clicksCounted(ctx)
  }
  if (counted !== codeCount) {
    throw new Error(
      `the worker counted ${counted} of ${codeCount} warm-up clicks within 60 s: the pipeline is not healthy`,
    )
  }
  ctx.log(`${codeCount} codes created and cached; warm-up clicks counted`)
}

/** A redirect is a 301 or a 302 (REDIRECT_STATUS); each one served records one click. */
const redirectStatuses = ['301', '302']

/** Redirects k6 saw served (301/302), over the whole run. */
function servedInLedger(ctx: RunContext): number {
  return ctx.ledger.select({ op: 'redirect', where: (e) => e.status === 301 || e.status === 302 }).count
}

/**
 * Postgres and Kafka down together, and meanwhile one API instance killed: it is restarted at
 * `restartAt`, after Postgres is back (its boot runs the migrations), and replays its spool.
 */
const outage = (at: number, until: number, killAt: number, restartAt: number) => [
  { at, until, action: stop(infra('postgres')), label: 'Postgres primary down' },
  { at, until, action: stop(infra('kafka')), label: 'Kafka down' },
  { at: killAt, until: restartAt, action: kill(service('api', 1)), label: 'kill -9 api-1' },
]

export default defineExperiment({
  id: 'pm04',
  slug: 'kafka-and-postgres-down',
  system: shortener,
  title: 'Kafka and Postgres down together',
  description:
    `${codeCount} cached codes redirected over ${instances} API instances while the Postgres primary and Kafka are stopped together, then started again. ` +
    'Redirects never need either (Redis answers, the click is recorded without waiting), so they keep working in both modes. ' +
    'Naive, click batches that cannot reach Kafka are dropped (and counted as dropped); hardened, they wait in a bounded spool and are published when Kafka is back, so the worker counts every redirect served. ' +
    'The spool is durable: one instance is killed with kill -9 during the outage and, restarted, publishes what it had spooled.',
  services: {
    api: { instances },
    worker: { instances: 1 },
  },
  env: {
    // A topic and consumer group of its own: no other experiment's backlog in the way.
    CLICKS_TOPIC: 'shortener-pm04-clicks',
    CLICKS_GROUP_ID: 'shortener-pm04-clicks',
    CLICK_SPOOL_MAX: String(spoolMax),
    CLICK_SPOOL_DIR: spoolDir,
  },
  mitigations: { clickSpool: true },
  infra: ['toxiproxy', 'postgres', 'postgres-replica', 'redis-cache', 'kafka', 'k6'],
  reset: resetCodes,
  setup: createCodes,
  load: {
    script: 'chaos/shortener/load/pm04-cached-redirects.js',
    durationS: 90,
    env: { RATE: '100', CODES: String(codeCount), CODE_PREFIX: codePrefix, TIMEOUT: '2s' },
    balancer: true,
  },
  timeline: outage(15, 60, 35, 68),
  // Until the pipeline is drained: every spool empty and every acknowledged event counted. Naive
  // drains too — what it dropped is simply never counted.
  settleS: 120,
  async settleUntil(ctx) {
    try {
      // Scraped now (the lab's own scrapes are before and after the load); both are API metrics.
      const metrics = await ctx.scrape()
      const spooled = metrics.sum('shortener_clicks_spooled')
      const published = metrics.sum('shortener_clicks_published_total')
      const counted = await clicksCounted(ctx)
      return spooled === 0 && counted >= published
    } catch {
      return false // An API instance or Postgres not answering yet (unmeasured): not drained.
    }
  },
  invariants: [
    successAtLeast(0.99, {
      op: 'redirect',
      expect: 'always',
      name: 'redirects of cached codes (fault window)',
    }),
    invariant('clicks counted = redirects served (none lost)', 'counted = served, 0 lost', async (ctx) => {
      const served = servedInLedger(ctx)
      const before = redirectStatuses.reduce(
        (sum, status) => sum + ctx.metrics.sum('shortener_redirects_total', { status }, 'before'),
        0,
      )
      const counted = (await clicksCounted(ctx)) - before
      // Every redirect k6 sent: one answered with an error may still have been recorded (an
      // instance killed between its spool write and its reply), so this is the upper bound.
      const attempted = ctx.ledger.select({ op: 'redirect' }).count
      const lost = served - counted
      // A delta, so it counts the killed instance's drops only from its restart on.
      const dropped = ctx.metrics.delta('shortener_clicks_dropped_total')
      return {
        // Never fewer than k6 saw served (none lost), never more than k6 asked for (none twice).
        holds: counted >= served && counted <= attempted,
        observed: `${counted} of ${served} (${Math.max(0, lost)} lost)`,
        detail: `served per k6 ${served} of ${attempted} sent; counted by the worker ${counted}; dropped by the API (since each instance's last start) ${dropped}`,
      }
    }),
    invariant(
      'within the spool bound',
      `0 clicks dropped for a full spool (CLICK_SPOOL_MAX ${spoolMax} per instance)`,
      (ctx) => {
        const full = ctx.metrics.delta('shortener_clicks_dropped_total', { reason: 'spool_full' })
        const peak = ctx.metrics.maxOver('shortener_clicks_spooled')
        return { holds: full === 0, observed: `${full} dropped; peak spool ${peak}` }
      },
      { expect: 'always' },
    ),
    invariant(
      'Postgres healed: the replica streams from the restarted primary',
      '≥ 1 streaming replica',
      async (ctx) => {
        const { rows } = await ctx.pg.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'`,
        )
        const n = rows[0]?.n ?? 0
        return { holds: n >= 1, observed: `${n} streaming` }
      },
      { expect: 'always' },
    ),
  ],
  ci: {
    load: { durationS: 30, env: { RATE: '60' } },
    timeline: outage(6, 16, 10, 22),
  },
})
