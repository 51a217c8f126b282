/**
 * pm07 — a stale rules applier (AWS DynamoDB, us-east-1, 2025-10-19: a DNS plan applier delayed
 * mid-apply resumed after a newer plan was applied and overwrote it; the cleanup of "old" plans
 * then deleted the records in use, leaving the endpoint empty).
 *
 * Two decision-service instances share one Redis, from which each reads the applied ruleset every
 * 100 ms; each is also an applier of what it is given (PUT /admin/rules). A steady load keeps
 * deciding in domain pm07. Every few seconds the timeline races the two appliers: api-0 gets
 * version N and, once its /metrics say it is applying, is stopped (SIGSTOP, the lab's `pause`);
 * api-1 gets N+1 and N+2; api-0 is resumed. Applies are paced (RULES_APPLY_BATCH domains per
 * command, RULES_APPLY_PAUSE_MS between commands — so a large push never blocks Redis for the
 * decisions), which is what makes "mid-apply" last long enough to stop an applier in.
 *
 * Naive (`rulesCompareAndSet` off) an apply rewrites one ruleset in place: delete it and its
 * version, write the domains batch by batch, set the version. Every apply leaves the store with
 * no version for its whole length, and the instances read it and decide with a partial or empty
 * ruleset — every request of an unknown domain is allowed. The resumed api-0 finishes writing
 * version N over N+2 and sets version N: the applied version goes backwards, in Redis and then
 * on both instances, with a mix of two rulesets in force.
 *
 * Hardened, api-0 stages version N under a key of its own and its commit — one Lua script,
 * compare-and-set on the generation — finds N+2 applied: it answers 409 (superseded) and deletes
 * its staging. Readers follow a pointer to complete generations and refuse an empty or older one.
 *
 * Invariants (catalog): the applied version, sampled every 20 ms from Redis (through the
 * system's fixture) and every 50 ms from each instance's GET /v1/rules, never goes backwards and
 * is never empty — both fail naive and hold hardened; the push to the stale applier is refused
 * (409) hardened and accepted naive. In both modes every decision is answered (requests sent to
 * the stopped instance wait for it, within their 5 s timeout) and every race stopped api-0
 * mid-apply, which is what makes the verdict mean something.
 */
import {
  defineExperiment,
  errorRateBelow,
  type HookContext,
  invariant,
  type RunContext,
} from '@faultline/lab'
import { experimentWorld } from '@faultline/ratelimiter/fixture'
import ratelimiter from '@faultline/ratelimiter/system'
import {
  countBySource,
  describeCounts,
  raceAppliers,
  recorderOf,
  regressions,
  sampleAppliedVersions,
  startRecording,
} from './lib/pm07-race.ts'
import { bootRulesFile, pm07Limit } from './lib/pm07-rulesets.ts'

/** Counters and rules under a key prefix of the experiment's own (never `up`'s). */
const world = experimentWorld('pm07')
const { fixture } = world

/** Timeline index of the races. */
const raceFault = 1

async function resetStore(ctx: HookContext): Promise<void> {
  // Counters and the rules in Redis (both layouts): each instance boots by applying version 1.
  await fixture.reset(ctx)
}

async function setup(ctx: HookContext): Promise<void> {
  startRecording(ctx.mode)
  for (const index of [0, 1]) {
    const version = await fixture.appliedVersion(ctx.url('api', index))
    if (version !== 1) throw new Error(`api-${index} applies version ${version}, not the boot file's 1`)
  }
}

function neverBackwards(ctx: RunContext) {
  const { samples } = recorderOf(ctx.mode)
  const found = regressions(samples)
  const first = found[0]
  return {
    holds: samples.length > 0 && found.length === 0,
    observed:
      found.length === 0
        ? `never (${samples.length} samples)`
        : `${found.length} times: ${sourcesOf(found)}; first ${first?.source} v${first?.from} → v${first?.to} at t=${first?.tS.toFixed(1)} s`,
    ...(found.length > 0
      ? { detail: found.map((f) => `${f.source} v${f.from} → v${f.to} at t=${f.tS.toFixed(1)} s`).join('; ') }
      : {}),
  }
}

function sourcesOf(found: readonly { source: string }[]): string {
  const by = new Map<string, number>()
  for (const f of found) by.set(f.source, (by.get(f.source) ?? 0) + 1)
  return [...by].map(([s, n]) => `${s} ${n}`).join(', ')
}

function neverEmpty(ctx: RunContext) {
  const counts = countBySource(recorderOf(ctx.mode).samples)
  const empty = [...counts.values()].reduce((sum, c) => sum + c.empty, 0)
  return {
    holds: counts.size > 0 && empty === 0,
    observed: empty === 0 ? 'never' : `${empty} empty samples (${describeCounts(counts, 'empty')})`,
    detail: `samples: ${describeCounts(counts, 'samples')}`,
  }
}

function staleApplierRefused(ctx: RunContext) {
  const { races } = recorderOf(ctx.mode)
  const refused = races.filter((r) => r.staleStatus === 409).length
  return {
    holds: races.length > 0 && refused === races.length,
    observed: `${refused} of ${races.length} (${races.map((r) => `v${r.versions.stale}: ${r.staleStatus}`).join(', ')})`,
  }
}

function racesAsPlanned(ctx: RunContext) {
  const { races, samples } = recorderOf(ctx.mode)
  const planned = ctx.faults[raceFault]?.firesS.length ?? 0
  const midApply = races.filter((r) => r.pausedMidApply && r.newerStatuses.every((s) => s === 200)).length
  const counts = countBySource(samples)
  // Enough readings from every source to have seen a window of a few hundred milliseconds.
  const sampled = (['store', 'api-0', 'api-1'] as const).every((s) => (counts.get(s)?.samples ?? 0) >= 50)
  return {
    holds: planned > 0 && midApply === planned && sampled,
    observed: `${midApply} of ${planned} races stopped api-0 mid-apply with api-1's pushes applied; samples: ${describeCounts(counts, 'samples')}`,
  }
}

function describe(durationS: number, races: number): string {
  return (
    `Two instances decide at 100/s (domain pm07) for ${durationS} s while ${races} times api-0 is sent version N and ` +
    'stopped mid-apply, api-1 applies N+1 and N+2, and api-0 resumes. Naive (in place, unconditional) the applied ' +
    'version is empty during every apply and goes back to N; hardened (generations + compare-and-set) it never ' +
    'does and api-0 gets 409.'
  )
}

const sampler = {
  at: 0,
  action: sampleAppliedVersions(fixture),
  label: 'sample the applied version (whole load)',
}
const race = raceAppliers()

export default defineExperiment({
  id: 'pm07',
  slug: 'stale-rules-applier',
  system: ratelimiter,
  title: 'Stale rules applier: one applier paused mid-apply overwrites a newer ruleset',
  description: describe(60, 8),
  services: { api: { instances: 2 } },
  env: {
    ...world.env,
    RULES_FILE: bootRulesFile,
    RULES_APPLY_BATCH: '2',
    RULES_APPLY_PAUSE_MS: '40',
    RULES_POLL_MS: '100',
  },
  mitigations: { rulesCompareAndSet: true },
  infra: ['toxiproxy', 'redis-cache', 'k6'],
  reset: resetStore,
  setup,
  load: {
    script: 'loadtests/ratelimiter/many-keys.js',
    durationS: 60,
    env: {
      TARGET: 'decide',
      DOMAIN: pm07Limit.domain,
      DESCRIPTOR_KEY: pm07Limit.descriptorKey,
      KEYS: '1000',
      RATE: '100',
      // A request sent to the stopped instance waits for it (about 2.5 s): it must not time out,
      // nor fail the script's p99 threshold (the stop is the experiment's doing, not the service's).
      TIMEOUT: '5s',
      P99_MS: '5000',
    },
  },
  timeline: [sampler, { at: 5, until: 48, every: 6, action: race, label: 'race the appliers (every 6 s)' }],
  settleS: 1,
  invariants: [
    invariant('applied version never goes backwards', 'never (Redis and both instances)', neverBackwards, {
      metric: { name: 'ratelimiter_rules_version' },
    }),
    invariant('applied version never empty', 'never (Redis and both instances)', neverEmpty, {
      metric: { name: 'ratelimiter_rules_store_generation' },
    }),
    invariant(
      'the stale applier is refused',
      'HTTP 409 for every push to the stopped applier',
      staleApplierRefused,
    ),
    errorRateBelow(0.001, { op: 'decide', window: 'all', expect: 'always', name: 'decision errors' }),
    invariant(
      'the races ran as planned',
      'api-0 stopped mid-apply in every race; every source sampled ≥ 50 times',
      racesAsPlanned,
      { expect: 'always' },
    ),
  ],
  ci: {
    description: describe(20, 3),
    load: { durationS: 20 },
    timeline: [sampler, { at: 2, until: 13, every: 5, action: race, label: 'race the appliers (every 5 s)' }],
  },
})
