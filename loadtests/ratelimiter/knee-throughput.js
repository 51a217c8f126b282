// Throughput of one decision: the script the system benchmark (`node packages/bench/src/
// redirect-vs-fastify.ts --system ratelimiter`) runs against both the decision service and a bare
// Fastify hello-world, so both are measured by the same generator with the same shape — only
// BASE_URL and TARGET_PATH differ (see knee-request.js for the request). The ratelimiter's own
// comparison with the peer limiters is bench.js (services/ratelimiter/bench/compare.ts), which
// takes BASE_URLS and MODE instead of the bench's BASE_URL, TARGET_PATH and CODES_FILE.
//
//   SCENARIO=max   closed model: VUS virtual users (default 32), each sending its next request as
//                  soon as the previous answered, for DURATION (15s) after WARMUP (3s, not counted).
//   SCENARIO=rate  open model: RATE/s (default 1000) for DURATION after the same warm-up at that rate.
//
//   k6 run -e BASE_URL=http://127.0.0.1:3320 loadtests/ratelimiter/knee-throughput.js
//   k6 run -e SCENARIO=rate -e RATE=3000 -e CODES_FILE=/abs/keys.json loadtests/ratelimiter/knee-throughput.js
//
// Keys are visited round robin (every VU from its own offset), so each request is an ordinary
// full decision, not always the same key.

import exec from 'k6/execution'
import { envNumber, envString } from '../lib/env.js'
import { baseUrl, closedModelRun, openModelRun, selectScenario } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { httpThresholds, mergeThresholds, scenarioThresholds } from '../lib/thresholds.js'
import { kneeKeys, kneeRequest } from './knee-request.js'

const base = baseUrl('http://127.0.0.1:3320')
const request = kneeRequest()
const keys = request.needsKeys ? kneeKeys() : []

const duration = envString('DURATION', '15s')
const warmup = envString('WARMUP', '3s')

function max() {
  return closedModelRun({ vus: envNumber('VUS', 32), warmup, duration })
}

function rate() {
  const shape = {
    rate: envNumber('RATE', 1000),
    vus: envNumber('VUS', 64),
    maxVus: envNumber('MAX_VUS', 512),
  }
  return openModelRun({ ...shape, warmup, duration })
}

export const options = {
  scenarios: selectScenario({ max, rate }, 'max'),
  thresholds: mergeThresholds(
    // Observe-only on `measure` (the benchmark judges the numbers): its own count and percentiles.
    scenarioThresholds('measure', { p99Ms: envNumber('P99_MS', 1000), maxErrorRate: 0.01 }),
    { 'http_reqs{scenario:measure}': ['count>=0'], 'dropped_iterations{scenario:measure}': ['count>=0'] },
    httpThresholds({ p99Ms: envNumber('OVERALL_P99_MS', 1000) }),
  ),
  discardResponseBodies: true,
  summaryTrendStats,
}

let next = -1

export default function () {
  if (!request.needsKeys) {
    request.send(base, '', {})
    return
  }
  if (next < 0) next = (exec.vu.idInTest * 7919) % keys.length
  next = (next + 1) % keys.length
  request.send(base, keys[next], {})
}

export const handleSummary = summaryHandler('ratelimiter-knee-throughput')
