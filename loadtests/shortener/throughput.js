// Throughput of one GET: the script the redirect benchmark (`node packages/bench/src/redirect-vs-fastify.ts`)
// runs against both the shortener and a bare Fastify hello-world, so both are measured by the same
// generator with the same shape — only TARGET_PATH and BASE_URL differ.
//
//   SCENARIO=max   closed model: VUS virtual users (default 32), each sending its next request as
//                  soon as the previous answered, for DURATION (15s) after WARMUP (3s, not
//                  counted). Measures the maximum throughput: the `measure` scenario's count over
//                  its duration.
//   SCENARIO=rate  open model: RATE/s (default 1000) for DURATION (15s) after the same warm-up at
//                  that rate. Measures latency at a given load (the benchmark uses half the max).
//
//   k6 run -e BASE_URL=http://127.0.0.1:3100 -e TARGET_PATH=/ loadtests/shortener/throughput.js
//   k6 run -e SCENARIO=rate -e RATE=3000 -e CODES_FILE=/abs/codes.json loadtests/shortener/throughput.js
//
// TARGET_PATH (default `/{code}`) and CODES_FILE / EXPECT_STATUS work as in step-ramp.js; codes are
// visited round robin (every VU from its own offset), so each request is an ordinary cache hit,
// not always the same key.

import exec from 'k6/execution'
import { envNumber, envString } from '../lib/env.js'
import { baseUrl, closedModelRun, openModelRun, selectScenario } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { httpThresholds, mergeThresholds, scenarioThresholds } from '../lib/thresholds.js'
import { codesFromFile, createCodes, target, warmCodes } from './common.js'

const base = baseUrl('http://127.0.0.1:3000')
const request = target()
const fileCodes = codesFromFile()

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
    // Observe-only on `measure` (the benchmark judges the numbers), so the summary has its own
    // count and percentiles without the warm-up.
    scenarioThresholds('measure', { p99Ms: envNumber('P99_MS', 1000), maxErrorRate: 0.01 }),
    { 'http_reqs{scenario:measure}': ['count>=0'], 'dropped_iterations{scenario:measure}': ['count>=0'] },
    httpThresholds({ p99Ms: envNumber('OVERALL_P99_MS', 1000) }),
  ),
  maxRedirects: 0,
  discardResponseBodies: true,
  setupTimeout: '120s',
  summaryTrendStats,
}

export function setup() {
  if (!request.needsCodes || fileCodes.length > 0) return { codes: [] }
  const codes = createCodes(base, envNumber('KEYS', 100))
  warmCodes(base, codes)
  return { codes }
}

let next = -1

export default function (data) {
  if (!request.needsCodes) {
    request.get(base, '')
    return
  }
  const codes = fileCodes.length > 0 ? fileCodes : data.codes
  if (next < 0) next = (exec.vu.idInTest * 7919) % codes.length
  next = (next + 1) % codes.length
  request.get(base, codes[next])
}

export const handleSummary = summaryHandler('shortener-throughput')
