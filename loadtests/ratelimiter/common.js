// What every ratelimiter load test shares: one rate-limited operation, sent either to the demo
// gateway (GET with `x-api-key`) or to the decision service (POST /v1/decide), a client timeout
// with N immediate retries (the naive client of pm06), and the admission counts. Plain k6
// JavaScript, imported by hot-key.js, many-keys.js and window-edge.js.
//
//   TARGET           `decide` (default: the decision service) or `gateway`
//   BASE_URLS        every instance, comma-separated (the lab sets it); else BASE_URL. Requests
//                    go round-robin over them: there is no balancer in front of the instances.
//   DOMAIN, DESCRIPTOR_KEY   what a decide request names (default `api`, `api_key`: the example rules' 100/s per key); the
//                    decision service's rules file must have a limit for that descriptor
//   GATEWAY_PATH     the gateway path to GET (default `/`)
//   TIMEOUT          client timeout per request (default 2s)
//   RETRIES          immediate retries after a timeout, a connection error or a 5xx (default 0):
//                    the retrying client of pm06, which never waits before trying again
//
// Every HTTP request is tagged `op` (`decide` or `gateway`) and `attempt` (`first` or `retry`),
// so the lab's ledger and k6's summary tell the offered load from what retries added.
//
// Counters (tagged `op`):
//   ratelimit_admitted   200 from the gateway, `overall: OK` from the decision service
//   ratelimit_denied     429 from the gateway, `overall: OVER_LIMIT` from the decision service
//   ratelimit_degraded   a decide answer the failure policy gave instead of Redis
//   ratelimit_gave_up    every attempt failed (timeout, connection error, 5xx)
// and the trend ratelimit_attempts (attempts per operation, 1 without retries).

import http from 'k6/http'
import { Counter, Trend } from 'k6/metrics'
import { assertLoopback, envNumber, envString } from '../lib/env.js'

export const admitted = new Counter('ratelimit_admitted')
export const denied = new Counter('ratelimit_denied')
export const degraded = new Counter('ratelimit_degraded')
export const gaveUp = new Counter('ratelimit_gave_up')
export const attemptsPerOp = new Trend('ratelimit_attempts')

/** Service ports of `./faultline up ratelimiter` (packages/infra/src/topology.ts). */
const defaultPorts = { decide: 18090, gateway: 18092 }

/** The target kind, its base URLs and how one operation is sent. */
export function target() {
  const kind = envString('TARGET', 'decide')
  if (kind !== 'decide' && kind !== 'gateway') throw new Error(`TARGET=${kind} is not decide or gateway`)
  const fallback = `http://127.0.0.1:${defaultPorts[kind]}`
  const bases = envString('BASE_URLS', envString('BASE_URL', fallback))
    .split(',')
    .map((url) => assertLoopback(url.trim()).replace(/\/+$/, ''))
    .filter((url) => url !== '')
  return {
    kind,
    op: kind,
    bases,
    timeout: envString('TIMEOUT', '2s'),
    retries: envNumber('RETRIES', 0),
    domain: envString('DOMAIN', 'api'),
    descriptorKey: envString('DESCRIPTOR_KEY', 'api_key'),
    gatewayPath: envString('GATEWAY_PATH', '/'),
  }
}

// 429 is an answer, not a failure: `http_req_failed` counts only timeouts, resets and 5xx.
const answered = http.expectedStatuses(200, 429)
let sent = 0

function sendOnce(t, key, attempt, extraTags) {
  const base = t.bases[(__VU + sent++) % t.bases.length]
  const tags = { op: t.op, attempt, ...extraTags }
  if (t.kind === 'gateway') {
    return http.get(`${base}${t.gatewayPath}`, {
      headers: { 'x-api-key': key },
      timeout: t.timeout,
      responseCallback: answered,
      tags: { name: `GET ${t.gatewayPath}`, ...tags },
    })
  }
  const body = JSON.stringify({ domain: t.domain, descriptors: [{ key: t.descriptorKey, value: key }] })
  return http.post(`${base}/v1/decide`, body, {
    headers: { 'content-type': 'application/json' },
    timeout: t.timeout,
    responseType: 'text',
    responseCallback: answered,
    tags: { name: 'POST /v1/decide', ...tags },
  })
}

/** A decide answer's verdict: `admitted`, `denied` or undefined (not a decision). */
function decideOutcome(res) {
  if (res.status !== 200) return undefined
  try {
    const body = res.json()
    if (body.overall === 'OK') return { verdict: 'admitted', degraded: anyDegraded(body) }
    if (body.overall === 'OVER_LIMIT') return { verdict: 'denied', degraded: anyDegraded(body) }
  } catch {
    // Not JSON: counted as a failed attempt below.
  }
  return undefined
}

function anyDegraded(body) {
  return Array.isArray(body.statuses) && body.statuses.some((s) => s?.degraded)
}

function outcome(t, res) {
  if (t.kind === 'decide') return decideOutcome(res)
  if (res.status === 200) return { verdict: 'admitted', degraded: false }
  if (res.status === 429) return { verdict: 'denied', degraded: false }
  return undefined
}

/**
 * One rate-limited operation for `key`: the request, then up to RETRIES immediate retries while
 * the answer is not a decision. Returns `{ verdict, res, attempts }`, verdict `admitted`,
 * `denied` or `failed`.
 */
export function limitedRequest(t, key, extraTags = {}) {
  let res
  for (let attempt = 0; attempt <= t.retries; attempt++) {
    res = sendOnce(t, key, attempt === 0 ? 'first' : 'retry', extraTags)
    const result = outcome(t, res)
    if (result !== undefined) {
      const tags = { op: t.op, ...extraTags }
      ;(result.verdict === 'admitted' ? admitted : denied).add(1, tags)
      if (result.degraded) degraded.add(1, tags)
      attemptsPerOp.add(attempt + 1, tags)
      return { verdict: result.verdict, res, attempts: attempt + 1 }
    }
  }
  gaveUp.add(1, { op: t.op, ...extraTags })
  attemptsPerOp.add(t.retries + 1, { op: t.op, ...extraTags })
  return { verdict: 'failed', res, attempts: t.retries + 1 }
}

/** The knobs every ratelimiter summary records, besides the library's list. */
export const recordedKnobs = [
  'TARGET',
  'DOMAIN',
  'DESCRIPTOR_KEY',
  'GATEWAY_PATH',
  'TIMEOUT',
  'RETRIES',
  'KEY',
  'LIMIT',
  'WINDOW_MS',
  'EDGE_MS',
]

/**
 * handleSummary of the library plus a `ratelimit` section (admitted, denied, degraded, gave up,
 * attempts per operation, and `extra(data)`), so the JSON answers "how much was let through"
 * without digging in k6's metric map.
 */
export function summaryWithAdmission(summaryHandler, name, extra = () => ({})) {
  const base = summaryHandler(name)
  return (data) => {
    const out = base(data)
    const count = (metric) => data.metrics[metric]?.values.count ?? 0
    const section = {
      admitted: count('ratelimit_admitted'),
      denied: count('ratelimit_denied'),
      degraded: count('ratelimit_degraded'),
      gaveUp: count('ratelimit_gave_up'),
      attemptsPerOp: data.metrics.ratelimit_attempts?.values.avg ?? null,
      knobs: Object.fromEntries(
        recordedKnobs.filter((k) => __ENV[k] !== undefined).map((k) => [k, __ENV[k]]),
      ),
      ...extra(data),
    }
    const jsonKey = envString('SUMMARY_PATH', '') || 'stdout'
    const parsed = JSON.parse(out[jsonKey])
    parsed.ratelimit = section
    out[jsonKey] = `${JSON.stringify(parsed, null, 2)}\n`
    const textKey = jsonKey === 'stdout' ? 'stderr' : 'stdout'
    out[textKey] += `  RATELIMIT  ${JSON.stringify(section)}\n\n`
    return out
  }
}
