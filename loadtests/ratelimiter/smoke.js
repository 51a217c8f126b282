// Ratelimiter smoke test: ten decisions against the decision service (or, with TARGET=gateway,
// ten requests through the demo gateway), to prove the script, the service and Redis work at all.
// It is hot-key.js's `smoke` scenario under the name `./faultline up ratelimiter` suggests.
//
//   k6 run -e BASE_URL=http://127.0.0.1:18090 loadtests/ratelimiter/smoke.js
//   k6 run -e TARGET=gateway -e BASE_URL=http://127.0.0.1:18092 loadtests/ratelimiter/smoke.js

import { check } from 'k6'
import { smoke } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { httpThresholds } from '../lib/thresholds.js'
import { limitedRequest, summaryWithAdmission, target } from './common.js'

const t = target()

export const options = {
  scenarios: { smoke: smoke({ iterations: 10 }) },
  thresholds: httpThresholds({ p99Ms: 1000 }),
  summaryTrendStats,
}

export default function () {
  const { verdict } = limitedRequest(t, 'smoke')
  check(verdict, { 'answered (admitted or denied)': (v) => v !== 'failed' })
}

export const handleSummary = summaryWithAdmission(summaryHandler, 'ratelimiter-smoke')
