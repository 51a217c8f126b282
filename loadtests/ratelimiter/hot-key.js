// Ratelimiter, one hot key: every request names the same key, at a constant arrival rate (open
// model: a slow limiter does not lower the offered load). With a limit of L per window, about L
// per window are admitted and the rest denied; what matters is that the answer stays fast and
// correct however hot the key is — and, in pm06, what a client that retries at once does to Redis
// when Redis is slow.
//
//   k6 run loadtests/ratelimiter/hot-key.js                                   # decision service, 200/s for 30 s
//   k6 run -e TARGET=gateway -e RATE=500 loadtests/ratelimiter/hot-key.js     # the demo gateway
//   k6 run -e SCENARIO=smoke loadtests/ratelimiter/hot-key.js
//   k6 run -e TIMEOUT=1s -e RETRIES=5 loadtests/ratelimiter/hot-key.js         # pm06's retrying client
//
// Env: KEY (default `hot`), RATE (200/s), DURATION (30s), SCENARIO (`steady` or `smoke`), the
// target knobs of common.js (TARGET, BASE_URL(S), DOMAIN, DESCRIPTOR_KEY, GATEWAY_PATH, TIMEOUT,
// RETRIES), thresholds MAX_ERROR_RATE (0.01) and P99_MS (50).

import { check } from 'k6'
import { durationSeconds, envNumber, envString } from '../lib/env.js'
import { constantArrivalRate, selectScenario, smoke } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { httpThresholds, mergeThresholds } from '../lib/thresholds.js'
import { limitedRequest, summaryWithAdmission, target } from './common.js'

const t = target()
const key = envString('KEY', 'hot')
const rate = envNumber('RATE', 200)
// A VU is busy for up to (RETRIES + 1) × TIMEOUT when the service hangs: size the pool for that,
// so a hanging service shows as timeouts, not as iterations k6 dropped for want of VUs.
const worstOpS = (t.retries + 1) * durationSeconds(t.timeout)

export const options = {
  scenarios: selectScenario(
    {
      smoke: () => smoke({ iterations: 10 }),
      steady: () =>
        constantArrivalRate({
          rate,
          duration: '30s',
          preAllocatedVUs: Math.max(10, Math.ceil(rate / 20)),
          maxVUs: Math.max(50, Math.ceil(rate * worstOpS * 1.2)),
          gracefulStop: '3s',
        }),
    },
    'steady',
  ),
  thresholds: mergeThresholds(httpThresholds({ p99Ms: 50 }), {
    // Observe-only: the summary then lists first attempts and retries apart.
    'http_reqs{attempt:first}': ['count>=0'],
    'http_reqs{attempt:retry}': ['count>=0'],
  }),
  summaryTrendStats,
}

export default function () {
  const { verdict } = limitedRequest(t, key)
  check(verdict, { 'answered (admitted or denied)': (v) => v !== 'failed' })
}

export const handleSummary = summaryWithAdmission(summaryHandler, 'ratelimiter-hot-key')
