// Shortener spike: steady redirects, a sudden jump to SPIKE_RATE, then back, to watch how the
// service absorbs a burst and how fast latency recovers (a spool, a pool or a cache that fell
// behind shows as a slow recovery, not only as a bad peak). Creates continue at a trickle
// throughout, so the write path is exercised while the read path is overloaded.
//
//   redirects  ramping arrival rate: BASE_RATE (default 200) for BASE_DURATION (20s), SPIKE_RATE
//              (2000) for SPIKE_DURATION (10s), BASE_RATE again for RECOVERY_DURATION (30s);
//              Zipf-skewed codes (ZIPF_S, default 1.0);
//   creates    CREATE_RATE/s (default 5) for the same total time.
//
//   k6 run loadtests/shortener/spike.js
//   k6 run -e SPIKE_RATE=5000 -e SUMMARY_PATH=results/shortener/spike.json loadtests/shortener/spike.js
//
// Codes: KEYS links (default 1000) created in setup(), or CODES_FILE. Requests are tagged
// `phase=base|spike|recovery`, and the summary reports each phase's p99 and error rate.

import exec from 'k6/execution'
import { durationSeconds, envNumber } from '../lib/env.js'
import { baseUrl, constantArrivalRate, spike } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { checkThresholds, httpThresholds, mergeThresholds } from '../lib/thresholds.js'
import { codesFromFile, zipfReadsAndCreates } from './common.js'

const base = baseUrl('http://127.0.0.1:3000')
const ops = zipfReadsAndCreates(base, codesFromFile())

const redirectScenario = spike({
  baseRate: 200,
  spikeRate: 2000,
  baseDuration: '20s',
  spikeDuration: '10s',
  recoveryDuration: '30s',
  preAllocatedVUs: 50,
  maxVUs: 1000,
  exec: 'redirects',
})

// Phase boundaries in seconds since the scenario start, from the stages spike() built:
// [base, ramp up, spike, ramp down, recovery].
const stageSeconds = redirectScenario.stages.map((s) => durationSeconds(s.duration))
const spikeStartS = stageSeconds[0]
const recoveryStartS = stageSeconds.slice(0, 4).reduce((a, b) => a + b, 0)
const totalS = stageSeconds.reduce((a, b) => a + b, 0)

function phase(secondsSinceStart) {
  if (secondsSinceStart < spikeStartS) return 'base'
  if (secondsSinceStart < recoveryStartS) return 'spike'
  return 'recovery'
}

const phaseThresholds = {}
for (const name of ['base', 'spike', 'recovery']) {
  phaseThresholds[`http_req_duration{op:redirect,phase:${name}}`] = ['p(99)>=0']
  phaseThresholds[`http_req_failed{op:redirect,phase:${name}}`] = ['rate>=0']
}

export const options = {
  scenarios: {
    redirects: redirectScenario,
    creates: constantArrivalRate({
      envPrefix: 'CREATE_',
      rate: 5,
      duration: `${totalS}s`,
      exec: 'creates',
    }),
  },
  // A spike is allowed to hurt; what is gated is that the service keeps answering at all.
  thresholds: mergeThresholds(
    httpThresholds({ p99Ms: envNumber('P99_MS', 2000), maxErrorRate: envNumber('MAX_ERROR_RATE', 0.05) }),
    checkThresholds({ minRate: envNumber('MIN_CHECK_RATE', 0.95) }),
    phaseThresholds,
  ),
  maxRedirects: 0,
  discardResponseBodies: true,
  setupTimeout: '120s',
  summaryTrendStats,
}

export function setup() {
  return ops.setup()
}

export function redirects(data) {
  ops.redirect(data, { phase: phase((Date.now() - exec.scenario.startTime) / 1000) })
}

export function creates() {
  ops.create('spike')
}

export const handleSummary = summaryHandler('shortener-spike')
