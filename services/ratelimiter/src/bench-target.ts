/**
 * The ratelimiter as the bench measures it (`node packages/bench/src/knee.ts --system ratelimiter`):
 * the decision service alone, answering `POST /v1/decide` with the benchmark's rules
 * (bench/rules-bench.yaml: every `api_key` of domain `bench` its own 10 000 per second, a limit no
 * run reaches), so every request is a full decision — the exact sliding log, one Lua script on
 * Redis — and admitted. The bench finds this file by convention (services/<system>/src/
 * bench-target.ts); see packages/bench/src/target.ts for the contract.
 *
 * The contract's request is a path with `{code}` in it. A decision is a POST whose key is in the
 * body, so the path's query string names the descriptors instead of being sent:
 * `/v1/decide?api_key={code}` is `POST /v1/decide {"domain": "bench", "descriptors": [{"key":
 * "api_key", "value": <code>}]}` (loadtests/ratelimiter/knee-request.js builds it); a path without
 * a query (the bare Fastify hello's `/`) is a plain GET.
 */
import { join } from 'node:path'
import { defineBenchTarget, named, startNodeSystem } from '@faultline/bench'
import { repoRoot } from '@faultline/infra'
import { inParallel } from '@faultline/resilience'

/** The benchmark's rules (shared with bench/compare.ts): domain `bench`, one limit per `api_key`. */
export const benchRulesFile = join(repoRoot, 'services', 'ratelimiter', 'bench', 'rules-bench.yaml')

/**
 * Its own Redis key prefix (limiter counters and the applied rules), so a knee run never reads or
 * disturbs a test's or an experiment's state on the same Redis — and vice versa.
 */
export const kneeIsolationEnv = { RULES_FILE: benchRulesFile, REDIS_KEY_PREFIX: 'bench:knee:' } as const

/** Decisions answered by the failure policy (fail-open) that mean the deadline is being missed. */
const degradedShare = 0.01

/**
 * One decision per key, 16 at a time: loads the Lua script into Redis and warms the JIT before the
 * ramp, and proves the rules answer (a wrong rules file or domain fails here, with its reason, not
 * as a ramp of errors). Throws when any answer is not an admitted decision.
 */
async function decideOncePerKey(baseUrl: string, keys: readonly string[]): Promise<Record<string, number>> {
  const outcomes: Record<string, number> = {}
  let firstProblem: string | undefined
  await inParallel(keys.length, 16, async (i) => {
    let outcome: string
    try {
      const res = await fetch(`${baseUrl}/v1/decide`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ domain: 'bench', descriptors: [{ key: 'api_key', value: keys[i] }] }),
        signal: AbortSignal.timeout(10_000),
      })
      const text = await res.text()
      outcome =
        res.status === 200 ? String((JSON.parse(text) as { overall?: unknown }).overall) : String(res.status)
      if (outcome !== 'OK') firstProblem ??= `POST /v1/decide → ${res.status} ${text.slice(0, 200)}`
    } catch (err) {
      outcome = (err as Error).name
      firstProblem ??= `POST /v1/decide: ${(err as Error).message}`
    }
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
  })
  if (firstProblem !== undefined) throw new Error(`warming ${keys.length} keys failed: ${firstProblem}`)
  return outcomes
}

export default defineBenchTarget({
  name: 'ratelimiter',
  request:
    'a full decision of the decision service (POST /v1/decide, domain bench, one api_key descriptor: the exact sliding log, one Lua script on Redis, every request admitted)',
  path: '/v1/decide?api_key={code}',
  scripts: {
    stepRamp: 'loadtests/ratelimiter/step-ramp.js',
    throughput: 'loadtests/ratelimiter/knee-throughput.js',
  },
  // Away from the service's default 3000 and the ports of ./faultline up ratelimiter (18090…),
  // and from the shortener's bench port (3300) and the hello-world's (3310).
  port: 3320,
  seedCount: { knee: 1000, bench: 100 },
  ceiling: {
    targetRatio: 0.7,
    why: 'issue 10: a decision (rules lookup, one Redis round trip) costs at most 30 % of the framework itself',
  },
  // A decision sits on its caller's hot path: the shortener's objective for one loopback hop.
  p99ObjectiveMs: 10,
  start: (options) =>
    startNodeSystem(
      {
        name: 'ratelimiter',
        apiEntry: join(repoRoot, 'services', 'ratelimiter', 'src', 'server.ts'),
        env: kneeIsolationEnv,
      },
      options,
    ),
  async seed(baseUrl, count, log) {
    // Keys need no creating: a key's counter is born with its first decision.
    const runId = Date.now().toString(36)
    const keys = Array.from({ length: count }, (_, i) => `knee-${runId}-${i}`)
    log(`warming ${count} api keys (one decision each)`)
    log(`warm-up answers ${JSON.stringify(await decideOncePerKey(baseUrl, keys))}`)
    return keys
  },
  metrics: {
    decisions: { kind: 'counter', select: [named('ratelimit_decisions_total')] },
    degraded: { kind: 'counter', select: [named('ratelimit_degraded_total')] },
    redisCalls: { kind: 'counter', select: [named('ratelimit_redis_attempts_total')] },
    retriesRefused: { kind: 'counter', select: [named('ratelimit_retries_refused_total')] },
  },
  signals: [
    {
      // A decision that waited DECISION_DEADLINE_MS for Redis is answered by the failure policy
      // (fail-open here): the Redis round trip, queued behind a busy Redis or a busy event loop, no
      // longer fits the deadline. The series appears with the first degraded decision, so until
      // then the share is 0, not unmeasured.
      id: 'decision-deadline',
      component:
        'decision deadline (decisions answered fail-open: Redis did not answer within DECISION_DEADLINE_MS)',
      threshold: degradedShare,
      unit: 'share of decisions',
      value: (s) => {
        const decisions = s.system.decisions ?? null
        if (decisions === null || decisions <= 0) return null
        return (s.system.degraded ?? 0) / decisions
      },
    },
  ],
  stepColumns: [
    ['degraded', 'degraded/s max'],
    ['redisCalls', 'redis calls/s max'],
  ],
  runCounters: [
    ['decisions', 'decisions'],
    ['degraded', 'degraded'],
    ['redisCalls', 'redis calls'],
  ],
})
