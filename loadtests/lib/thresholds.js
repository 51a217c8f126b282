// Common k6 thresholds. A threshold both gates the run (k6 exits non-zero when one fails) and
// makes k6 compute the metric it names, which is how per-scenario numbers reach the summary.
// Limits resolve like the scenario knobs: __ENV > the option the script passes > the default here.

import { envNumber } from './env.js'

function limit(name, option, fallback) {
  const value = envNumber(name, undefined)
  if (value !== undefined) return value
  return option !== undefined ? option : fallback
}

/**
 * Error rate and tail latency over all HTTP requests.
 * Env: MAX_ERROR_RATE (default 0.01), P99_MS (500), P95_MS (unset: no p95 threshold).
 */
export function httpThresholds(options = {}) {
  const maxErrorRate = limit('MAX_ERROR_RATE', options.maxErrorRate, 0.01)
  const p99Ms = limit('P99_MS', options.p99Ms, 500)
  const p95Ms = limit('P95_MS', options.p95Ms, undefined)
  const duration = [`p(99)<${p99Ms}`]
  if (p95Ms !== undefined) duration.push(`p(95)<${p95Ms}`)
  const thresholds = {
    http_req_failed: [threshold(`rate<${maxErrorRate}`, options.abortOnFail)],
    http_req_duration: duration.map((t) => threshold(t, options.abortOnFail)),
  }
  return thresholds
}

/** At least `minRate` of `check()`s pass (default 0.99, env MIN_CHECK_RATE). */
export function checkThresholds(options = {}) {
  const minRate = limit('MIN_CHECK_RATE', options.minRate, 0.99)
  return { checks: [`rate>=${minRate}`] }
}

/**
 * Arrival-rate executors drop iterations when every VU is busy: the generator, not the system,
 * became the bottleneck, and the run measured less load than it claims. Default: none allowed
 * (env MAX_DROPPED_ITERATIONS).
 */
export function droppedIterationThresholds(options = {}) {
  const max = limit('MAX_DROPPED_ITERATIONS', options.max, 0)
  return { dropped_iterations: [`count<=${max}`] }
}

/**
 * The same error-rate and latency thresholds for one scenario only (`http_req_duration{scenario:x}`),
 * so the summary reports that scenario's numbers separately.
 */
export function scenarioThresholds(scenario, options = {}) {
  const base = httpThresholds(options)
  return {
    [`http_req_failed{scenario:${scenario}}`]: base.http_req_failed,
    [`http_req_duration{scenario:${scenario}}`]: base.http_req_duration,
  }
}

/**
 * Per-step thresholds for the map stepScenarios returned. By default they only observe
 * (`p(99)>=0` always holds) — a knee-finding run is supposed to go past the knee — and exist so
 * that every step's p99, error rate and request count appear in the summary. Pass
 * `{ p99Ms, maxErrorRate }` to gate instead.
 */
export function stepThresholds(stepScenarioMap, options = {}) {
  const thresholds = {}
  for (const name of Object.keys(stepScenarioMap)) {
    thresholds[`http_req_duration{scenario:${name}}`] = [
      options.p99Ms !== undefined ? `p(99)<${options.p99Ms}` : 'p(99)>=0',
    ]
    thresholds[`http_req_failed{scenario:${name}}`] = [
      options.maxErrorRate !== undefined ? `rate<${options.maxErrorRate}` : 'rate>=0',
    ]
    thresholds[`http_reqs{scenario:${name}}`] = ['count>=0']
  }
  return thresholds
}

/** Merges threshold maps; expressions for the same metric are concatenated. */
export function mergeThresholds(...maps) {
  const merged = {}
  for (const map of maps) {
    for (const [metric, expressions] of Object.entries(map)) {
      merged[metric] = [...(merged[metric] ?? []), ...expressions]
    }
  }
  return merged
}

function threshold(expression, abortOnFail) {
  return abortOnFail ? { threshold: expression, abortOnFail: true, delayAbortEval: '10s' } : expression
}
