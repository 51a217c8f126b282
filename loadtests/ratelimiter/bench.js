// The ratelimiter benchmark's one request, the same for every candidate so one generator measures
// them all alike (`node services/ratelimiter/bench/compare.ts` drives it; see docs/ratelimiter.md):
//
//   MODE=get     GET TARGET_PATH (default /) with `x-api-key: <key>` — a candidate server (bare
//                Fastify, our plugin, @fastify/rate-limit, rate-limiter-flexible) or the gateway.
//   MODE=decide  POST /v1/decide {domain: DOMAIN, descriptors: [{key: DESCRIPTOR_KEY, value: <key>}]}
//                — the decision service.
//
//   SCENARIO=max   closed model: VUS users (default 32) for DURATION (10s) after WARMUP (2s).
//   SCENARIO=rate  open model: RATE/s (default 1000) for DURATION after the same warm-up.
//   SCENARIO=bursts  the accuracy shape: a trickle of TRICKLE_RATE/s (default 20) plus, every
//                  BURST_EVERY_MS (default 730, not a divisor of any round window, so the bursts
//                  drift across window edges), BURST_SIZE requests at once (default 150), for
//                  DURATION. A limiter whose window starts with the first request (a TTL) admits a
//                  full window late in one window and a full one early in the next: its edge burst.
//
// Keys: KEYS distinct keys (default 1000; 1 = one hot key), visited round robin from each VU's own
// offset. BASE_URLS (comma-separated) spreads requests over several instances, round robin, as a
// load balancer would. 200 and 429 both count as answered (a deny is a correct answer).

import exec from 'k6/execution'
import http from 'k6/http'
import { assertBounded, durationSeconds, envNumber, envString } from '../lib/env.js'
import { closedModelRun, openModelRun, selectScenario } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'

const baseUrls = envString('BASE_URLS', 'http://127.0.0.1:3100')
  .split(',')
  .map((u) => u.replace(/\/+$/, ''))
for (const url of baseUrls) {
  if (!/^https?:\/\/(127\.\d+\.\d+\.\d+|localhost)(:\d+)?$/.test(url)) {
    throw new Error(`BASE_URLS must be loopback addresses, got ${url}`)
  }
}
const mode = envString('MODE', 'get')
if (mode !== 'get' && mode !== 'decide') throw new Error(`MODE must be get or decide, got ${mode}`)
const targetPath = envString('TARGET_PATH', '/')
const keyCount = envNumber('KEYS', 1000)
const domain = envString('DOMAIN', 'bench')
const descriptorKey = envString('DESCRIPTOR_KEY', 'api_key')
const keyPrefix = envString('KEY_PREFIX', 'k')
const duration = envString('DURATION', '10s')
const warmup = envString('WARMUP', '2s')
http.setResponseCallback(http.expectedStatuses(200, 429))

function max() {
  return closedModelRun({ vus: envNumber('VUS', 32), warmup, duration })
}

function rate() {
  const shape = {
    rate: envNumber('RATE', 1000),
    vus: envNumber('VUS', 32),
    maxVus: envNumber('MAX_VUS', 256),
  }
  return openModelRun({ ...shape, warmup, duration })
}

const burstSize = envNumber('BURST_SIZE', 150)

function bursts() {
  assertBounded('bursts', durationSeconds(duration))
  return {
    trickle: {
      executor: 'constant-arrival-rate',
      rate: envNumber('TRICKLE_RATE', 20),
      timeUnit: '1s',
      duration,
      preAllocatedVUs: 4,
      maxVUs: 16,
      gracefulStop: '2s',
    },
    measure: {
      executor: 'constant-arrival-rate',
      exec: 'burst',
      rate: 1,
      timeUnit: `${envNumber('BURST_EVERY_MS', 730)}ms`,
      duration,
      preAllocatedVUs: 2,
      maxVUs: 8,
      gracefulStop: '2s',
    },
  }
}

export const options = {
  scenarios: selectScenario({ max, rate, bursts }, 'max'),
  // A burst is one http.batch: every request of it in flight at once.
  batch: burstSize,
  batchPerHost: burstSize,
  thresholds: {
    // Observe-only: the benchmark judges the numbers; these make the per-scenario figures appear.
    'http_reqs{scenario:measure}': ['count>=0'],
    'http_req_duration{scenario:measure}': ['p(99)>=0'],
    'http_req_failed{scenario:measure}': ['rate>=0'],
    'dropped_iterations{scenario:measure}': ['count>=0'],
  },
  discardResponseBodies: true,
  summaryTrendStats,
}

let next = -1
let instance = -1
const decideParams = { headers: { 'content-type': 'application/json' } }

export default function () {
  if (next < 0) {
    next = (exec.vu.idInTest * 7919) % keyCount
    instance = exec.vu.idInTest % baseUrls.length
  }
  next = (next + 1) % keyCount
  instance = (instance + 1) % baseUrls.length
  const key = `${keyPrefix}${next}`
  const base = baseUrls[instance]
  if (mode === 'get') {
    http.get(`${base}${targetPath}`, { headers: { 'x-api-key': key } })
  } else {
    const body = JSON.stringify({ domain, descriptors: [{ key: descriptorKey, value: key }] })
    http.post(`${base}/v1/decide`, body, decideParams)
  }
}

/** One burst: BURST_SIZE requests for the same key at once, spread over the instances. */
export function burst() {
  const requests = []
  for (let i = 0; i < burstSize; i++) {
    const base = baseUrls[i % baseUrls.length]
    const key = `${keyPrefix}${i % keyCount}`
    if (mode === 'get') {
      requests.push(['GET', `${base}${targetPath}`, null, { headers: { 'x-api-key': key } }])
    } else {
      const body = JSON.stringify({ domain, descriptors: [{ key: descriptorKey, value: key }] })
      requests.push(['POST', `${base}/v1/decide`, body, decideParams])
    }
  }
  http.batch(requests)
}

export const handleSummary = summaryHandler('ratelimiter-bench')
