// Shortener mixed load: redirects and creates at 100:1, the read/write shape of a URL shortener.
// Two named open-model scenarios (arrival rate does not drop when the service slows down):
//
//   redirects  READ_RATE/s (default 500) GET /:code over the codes setup() created, Zipf-skewed
//              (rank 1 is the hottest code; ZIPF_S, default 1.0), redirects not followed;
//   creates    CREATE_RATE/s (default READ_RATE / 100) POST /api/links of fresh URLs.
//
//   k6 run loadtests/shortener/mixed.js
//   k6 run -e READ_RATE=2000 -e READ_DURATION=60s -e CREATE_DURATION=60s -e KEYS=5000 \
//     -e SUMMARY_PATH=results/shortener/mixed.json loadtests/shortener/mixed.js
//
// Codes: KEYS links (default 1000) created in setup(), or CODES_FILE (a JSON array of codes).

import { envNumber, envString } from '../lib/env.js'
import { baseUrl, constantArrivalRate } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { checkThresholds, httpThresholds, mergeThresholds, scenarioThresholds } from '../lib/thresholds.js'
import { codesFromFile, zipfReadsAndCreates } from './common.js'

const base = baseUrl('http://127.0.0.1:3000')
const ops = zipfReadsAndCreates(base, codesFromFile())

const readRate = envNumber('READ_RATE', 500)
// DURATION sets both scenarios; READ_DURATION / CREATE_DURATION override one.
const duration = envString('DURATION', '30s')

export const options = {
  scenarios: {
    redirects: constantArrivalRate({ envPrefix: 'READ_', rate: readRate, duration, exec: 'redirects' }),
    creates: constantArrivalRate({
      envPrefix: 'CREATE_',
      rate: Math.max(1, Math.round(readRate / 100)),
      duration,
      exec: 'creates',
    }),
  },
  thresholds: mergeThresholds(
    httpThresholds({ p99Ms: envNumber('P99_MS', 100) }),
    scenarioThresholds('redirects', { p99Ms: envNumber('READ_P99_MS', 50) }),
    scenarioThresholds('creates', { p99Ms: envNumber('CREATE_P99_MS', 200) }),
    checkThresholds(),
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
  ops.redirect(data)
}

export function creates() {
  ops.create('mixed')
}

export const handleSummary = summaryHandler('shortener-mixed')
