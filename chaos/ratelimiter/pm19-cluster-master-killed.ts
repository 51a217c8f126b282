/**
 * pm19 — a Redis Cluster master killed under load (Discord, 2017-10-13 and 2019-02-12: clients
 * mishandled a Redis failover; a breaker bug let a thundering herd through).
 *
 * Two decision-service instances keep their counters on the Redis Cluster (3 masters, 3
 * replicas, node timeout 2 s). One hot key is decided at ten times its limit — 200 requests/s
 * against 20/s, so every second most requests are denied. Mid-load the master serving the hot
 * key's slot is killed with SIGKILL; its replica is promoted after the node timeout and an
 * election, 3–4 s in which the slot has no master.
 *
 * Naive (decisionDeadline, retryBackoff, circuitBreaker, localFallback off): a decision waits for
 * every attempt of the naive policy — 6 attempts of up to 500 ms, no deadline, no breaker — so a
 * decision caught by the failover waits until the promoted replica answers it, or 3 s and then
 * admits (without the local buckets the rule's `local` policy falls back to fail-open). Callers
 * wait hundreds of milliseconds to seconds; the clients' 2 s timeout cuts off some of them (the
 * answer they get late is mostly right: the failover's damage is the wait, not the count).
 *
 * Hardened: a decision waits at most 20 ms (DECISION_DEADLINE_MS, the default), then the rule's
 * policy answers from a bucket in each instance holding limit/instances; the breaker stops calling
 * the dead master until a trial succeeds against the promoted replica. No caller waits past the
 * deadline (the stated slack, 80 ms, covers timers firing late on a busy two-core machine).
 *
 * Over-admission is bounded in both modes and reported, against the bound of the policy in
 * force. The local buckets admit at most the limit per second, plus one limit at each switch
 * between Redis and them — they start full, and Redis's window restarts when it comes back — so
 * at most 2 limits over. Fail-open (naive) admits everything while Redis is away: on top of
 * those, up to (rate − limit) × the failover's length, and how much of it it uses depends on how
 * many decisions run out of attempts before the replica is promoted (measured naive 0 to 7
 * limits over, hardened 0 to 1.3; a naive decision waited > 100 ms 350–530 times a run, a hardened
 * one never).
 *
 * A second key is decided all along under the same limit with `failure_policy: closed`
 * (`pm19-closed`, 60 requests/s against 20/s, exact), its counter on the same master (setup picks a
 * value whose counter lands there): while the slot has no master — and, hardened, while the
 * breaker is open — every one of its decisions is a denial, so over the span from the kill to the
 * end it admits no more than its counter allows in that many seconds: zero over the limit, in
 * both modes. Its price is the other side: legitimate requests denied for the failover's seconds.
 *
 * Between modes the killed node is started again and rejoins as a replica; the fault's heal and
 * the reset both wait for the cluster to be healthy (`cluster_state:ok`, every slot served, a
 * replica per master), so each mode kills a master of a whole cluster.
 */
import {
  defineExperiment,
  type HookContext,
  type InvariantCheck,
  invariant,
  type RunContext,
} from '@faultline/lab'
import { experimentWorld } from '@faultline/ratelimiter/fixture'
import ratelimiter from '@faultline/ratelimiter/system'
import { closedKeyFile, pickClosedKey } from './lib/closed-key.ts'
import { connectedCluster, healCluster, killHotKeyMaster, tookOverNote } from './lib/cluster-failover.ts'
import { decideOnce, hotKeyRulesFile, pm19ClosedLimit, pm19Limit } from './lib/decision-rules.ts'
import { counterSteps, faultStartS, type Step } from './lib/metric-steps.ts'

/** Counters and rules under a key prefix of the experiment's own (never `up`'s). */
const world = experimentWorld('pm19')
const { fixture } = world

/** The hot key every request names. */
const hotKey = 'pm19-hot'
/** Requests per second for the hot key, ten times its limit. */
const rate = 200
/**
 * Requests per second for the fail-closed key, three times its limit: were it to fail open, the
 * failover's seconds would admit 40 a second over the limit.
 */
const closedRate = 60
/**
 * What a decision waits for Redis (the service's default DECISION_DEADLINE_MS), and the slack
 * granted on top before a wait counts as a hang: two instances, k6 and six Redis nodes share two
 * cores here, and a loaded machine fires timers tens of milliseconds late. A naive decision waits
 * for Redis itself: 500 ms per attempt, seconds in all.
 */
const deadlineMs = 20
const slackMs = 80
/** ratelimit_decision_seconds has a bucket at exactly deadline + slack (0.1 s). */
const waitBucketLe = String((deadlineMs + slackMs) / 1000)
/** Timeline index of the kill. */
const killFault = 0

const admitted = { name: 'ratelimiter_decisions_total', labels: { domain: pm19Limit.domain, code: 'OK' } }
const closedAdmitted = {
  name: 'ratelimiter_decisions_total',
  labels: { domain: pm19ClosedLimit.domain, code: 'OK' },
}

async function resetCluster(ctx: HookContext): Promise<void> {
  // A node killed by an earlier mode or run is back and the cluster whole before anything starts.
  await healCluster(ctx)
  await fixture.reset({ redis: await connectedCluster(ctx) })
}

async function createCounters(ctx: HookContext): Promise<void> {
  // Checks both instances apply the rule the invariants assume; the first creates the counter.
  await decideOnce(ctx.url('api', 0), pm19Limit, hotKey)
  await decideOnce(ctx.url('api', 1), pm19Limit, hotKey)
  const closed = await pickClosedKey(ctx, fixture, { limit: pm19Limit, value: hotKey }, pm19ClosedLimit)
  ctx.log(
    `fail-closed key ${closed.value}: its counter is on the hot key's master (127.0.0.1:${closed.port})`,
  )
}

function decisionsPastDeadline(ctx: RunContext) {
  const all = ctx.metrics.delta('ratelimit_decision_seconds_count')
  const inTime = ctx.metrics.delta('ratelimit_decision_seconds_bucket', { le: waitBucketLe })
  const late = all - inTime
  return {
    holds: all > 0 && late === 0,
    observed: `${late} of ${all} decisions waited > ${deadlineMs + slackMs} ms`,
    detail: `ratelimit_decision_seconds: count − bucket{le="${waitBucketLe}"}, summed over the instances`,
  }
}

/**
 * One domain's admitted decisions from the sampled second of the kill to the end of the load
 * (both instances summed), or a failed check when fewer than 3 seconds were sampled.
 */
function admittedAfterKill(
  ctx: RunContext,
  ref: typeof admitted,
): InvariantCheck | { steps: Step[]; seconds: number; count: number } {
  const killS = faultStartS(ctx, killFault)
  const steps = counterSteps(ctx, [ref]).filter((s) => s.toS > killS && s.toS <= ctx.durationS + 0.5)
  if (steps.length < 3)
    return { holds: false, observed: `only ${steps.length} sampled seconds after the kill` }
  const first = steps[0] as Step
  const last = steps.at(-1) as Step
  const count = steps.reduce((sum, s) => sum + (s.growth[0] ?? 0), 0)
  return { steps, seconds: last.toS - first.fromS, count }
}

/**
 * Over-admission from the kill to the end of the load, against the bound of the policy in force:
 * the local buckets (hardened) add at most two limits — one when they take over (they start
 * full), one when Redis does again (its window restarts); fail-open (naive: no local fallback)
 * admits everything while Redis is away, so on top of those it may add (rate − limit) × the
 * failover's length, which the kill action measured.
 */
function admittedDuringFailover(ctx: RunContext) {
  const after = admittedAfterKill(ctx, admitted)
  if ('holds' in after) return after
  const { steps, seconds, count } = after
  const limit = pm19Limit.perSecond
  const over = Math.max(0, count - limit * seconds)
  const local = ctx.mitigations.localFallback === true
  const killed = ctx.events.find((e) => e.fault === killFault && e.phase === 'inject' && e.status === 'ok')
  const failoverS = (killed?.tookMs ?? 0) / 1000
  const bound = 2 * limit + (local ? 0 : (rate - limit) * failoverS)
  const worst = Math.max(...steps.map((s) => (s.growth[0] ?? 0) / (s.toS - s.fromS)))
  return {
    holds: over <= bound,
    observed: `${over.toFixed(0)} over the limit (${count} in ${seconds.toFixed(1)} s); bound ${bound.toFixed(0)}`,
    detail:
      `${local ? 'local buckets: 2 limits' : `fail-open: 2 limits + (rate − limit) × ${failoverS.toFixed(1)} s of failover`}; ` +
      `most admitted in one sampled second ${worst.toFixed(0)} (limit ${limit}/s)`,
  }
}

/**
 * The fail-closed key from the kill to the end of the load: no more admitted than its exact
 * counter allows in that many seconds (a sliding log admits at most the limit in any second, so
 * limit × ⌈seconds⌉). While the slot has no master every decision is a denial; a key that failed
 * open would be 40 a second over for the failover's seconds.
 */
function closedAdmittedNoMore(ctx: RunContext) {
  const after = admittedAfterKill(ctx, closedAdmitted)
  if ('holds' in after) return after
  const { steps, seconds, count } = after
  const allowed = pm19ClosedLimit.perSecond * Math.ceil(seconds)
  const over = Math.max(0, count - allowed)
  const fewest = Math.min(...steps.map((s) => s.growth[0] ?? 0))
  return {
    holds: over === 0,
    observed: `${over} over the limit (${count} in ${seconds.toFixed(1)} s; ${allowed} allowed)`,
    detail:
      `${pm19ClosedLimit.domain}, ${closedRate}/s against ${pm19ClosedLimit.perSecond}/s, failure_policy closed; ` +
      `fewest admitted in one sampled second ${fewest} (the failover's denials: the price of failing closed)`,
  }
}

function failedOverAndHealed(ctx: RunContext) {
  const killed = ctx.events.find((e) => e.fault === killFault && e.phase === 'inject' && e.status === 'ok')
  const healed = ctx.events.find((e) => e.fault === killFault && e.phase === 'heal' && e.status === 'ok')
  const tookOver = killed?.note?.includes(tookOverNote) ?? false
  return {
    holds: tookOver && healed !== undefined,
    observed: `${killed?.note ?? 'the kill did not happen'}${healed ? `; ${healed.note}` : '; not healed'}`,
  }
}

function describe(rate: number, killAtS: number): string {
  return (
    `One key at ${rate}/s (limit ${pm19Limit.perSecond}/s, local fallback) over two instances on the Redis Cluster; ` +
    `at ${killAtS} s the master serving its slot is killed and its replica promoted (3–4 s). Naive decisions wait for ` +
    `up to 6 attempts of 500 ms (0.5–3 s); hardened ones wait ≤ ${deadlineMs} ms and answer from per-instance buckets ` +
    'of limit/2. Over-admission is reported against the bound of the policy in force: 2 limits for the local ' +
    "buckets, plus (rate − limit) × the failover's length for fail-open; a second key on the same master, " +
    `${closedRate}/s under a fail-closed rule of the same limit, is denied while Redis is away: 0 over.`
  )
}

export default defineExperiment({
  id: 'pm19',
  slug: 'cluster-master-killed',
  system: ratelimiter,
  title: 'A Redis Cluster master killed under load',
  description: describe(rate, 15),
  services: { api: { instances: 2 } },
  env: {
    ...world.env,
    RULES_FILE: hotKeyRulesFile,
    RATELIMIT_STORE: 'cluster',
    LOCAL_FALLBACK_INSTANCES: '2',
    DECISION_DEADLINE_MS: String(deadlineMs),
  },
  mitigations: { decisionDeadline: true, retryBackoff: true, circuitBreaker: true, localFallback: true },
  infra: ['toxiproxy', 'redis-cluster', 'k6'],
  reset: resetCluster,
  setup: createCounters,
  load: {
    script: 'chaos/ratelimiter/load/pm19-local-and-closed.js',
    durationS: 45,
    env: {
      TARGET: 'decide',
      DOMAIN: pm19Limit.domain,
      DESCRIPTOR_KEY: pm19Limit.descriptorKey,
      KEY: hotKey,
      RATE: String(rate),
      CLOSED_DOMAIN: pm19ClosedLimit.domain,
      CLOSED_KEY_FILE: closedKeyFile,
      CLOSED_RATE: String(closedRate),
      TIMEOUT: '2s',
    },
  },
  timeline: [
    {
      at: 15,
      action: killHotKeyMaster(fixture, pm19Limit, hotKey),
      label: 'kill -9 the master of the hot key',
    },
  ],
  settleS: 1,
  invariants: [
    invariant(
      'decisions that waited past the deadline',
      `0 slower than ${deadlineMs} ms + ${slackMs} ms slack`,
      decisionsPastDeadline,
    ),
    invariant(
      'admitted from the kill to the end of the load',
      "over the limit ≤ 2 limits (local buckets), + (rate − limit) × the failover's length (fail-open)",
      admittedDuringFailover,
      { metric: admitted, expect: 'always' },
    ),
    invariant(
      'fail-closed key admitted from the kill to the end of the load',
      '0 over the limit (exact counter, denials while Redis is away)',
      closedAdmittedNoMore,
      { metric: closedAdmitted, expect: 'always' },
    ),
    invariant(
      'a replica took over and the cluster healed',
      'failover seen; killed node back',
      failedOverAndHealed,
      {
        expect: 'always',
      },
    ),
  ],
  ci: {
    description: describe(rate, 5),
    load: { durationS: 20 },
    timeline: [
      {
        at: 5,
        action: killHotKeyMaster(fixture, pm19Limit, hotKey),
        label: 'kill -9 the master of the hot key',
      },
    ],
  },
})
