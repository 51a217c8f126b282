// Throughput of one timeline read: the script the system benchmark
// (`node packages/bench/src/redirect-vs-fastify.ts --system feed`) runs against both the feed and a
// bare Fastify hello-world, so both are measured by the same generator with the same shape — only
// BASE_URL and TARGET_PATH differ (see knee-request.js for the request).
//
//   SCENARIO=max   closed model: VUS virtual users (default 32), each sending its next request as
//                  soon as the previous answered, for DURATION (15s) after WARMUP (3s, not counted).
//   SCENARIO=rate  open model: RATE/s (default 1000) for DURATION after the same warm-up at that
//                  rate (services/feed/bench/fanout.ts uses it for the read p99 at half the knee).
//
//   k6 run -e BASE_URL=http://127.0.0.1:3330 -e CODES_FILE=/abs/users.json loadtests/feed/knee-throughput.js
//   k6 run -e SCENARIO=rate -e RATE=500 loadtests/feed/knee-throughput.js
//
// Users are visited round robin (every VU from its own offset), so each request is an ordinary warm
// timeline, not always the same one.

import exec from 'k6/execution'
import { envNumber, envString } from '../lib/env.js'
import { baseUrl, closedModelRun, openModelRun, selectScenario } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { httpThresholds, mergeThresholds, scenarioThresholds } from '../lib/thresholds.js'
import { defaultBaseUrl } from './common.js'
import { kneeRequest, kneeSetup, kneeUsers } from './knee-request.js'

const base = baseUrl(defaultBaseUrl)
const request = kneeRequest()
const fileUsers = request.needsUsers ? kneeUsers() : []

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
  setupTimeout: '300s',
  summaryTrendStats,
}

export function setup() {
  return kneeSetup(base, request, fileUsers)
}

let next = -1

export default function (data) {
  if (!request.needsUsers) {
    request.get(base, '', {})
    return
  }
  const users = fileUsers.length > 0 ? fileUsers : data.users
  if (next < 0) next = (exec.vu.idInTest * 7919) % users.length
  next = (next + 1) % users.length
  request.get(base, users[next], {})
}

export const handleSummary = summaryHandler('feed-knee-throughput')
