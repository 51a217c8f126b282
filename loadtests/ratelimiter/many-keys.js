// Ratelimiter, many keys: each request names one of KEYS keys drawn from a Zipf distribution
// (rank 1 the hottest; ZIPF_S = 0 is uniform), at a constant arrival rate. The shape of real API
// traffic — a few tenants busy, a long tail quiet — and the one that fills Redis with keys: the
// memory per active key and the Redis Cluster slot spread show here, not under one hot key.
//
//   k6 run loadtests/ratelimiter/many-keys.js
//   k6 run -e TARGET=gateway -e KEYS=100000 -e ZIPF_S=1.1 -e RATE=1000 loadtests/ratelimiter/many-keys.js
//
// Env: KEYS (10000), ZIPF_S (1.0), SEED (42), KEY_PREFIX (`key-`), RATE (500/s), DURATION (30s),
// SCENARIO (`steady` or `smoke`), the target knobs of common.js, thresholds MAX_ERROR_RATE (0.01)
// and P99_MS (50).

import { check } from 'k6'
import { durationSeconds, envNumber, envString } from '../lib/env.js'
import { constantArrivalRate, selectScenario, smoke } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { httpThresholds } from '../lib/thresholds.js'
import { keyName, zipf } from '../lib/zipf.js'
import { limitedRequest, summaryWithAdmission, target } from './common.js'

const t = target()
const rate = envNumber('RATE', 500)
const prefix = envString('KEY_PREFIX', 'key-')
const worstOpS = (t.retries + 1) * durationSeconds(t.timeout)
// One sampler per VU (seeded with SEED + the VU id): reproducible, and no shared state.
const keys = zipf({ n: envNumber('KEYS', 10000) })

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
  thresholds: httpThresholds({ p99Ms: 50 }),
  summaryTrendStats,
}

export default function () {
  // Scattered so the hot ranks are not neighbours (different slots on Redis Cluster).
  const key = keyName(keys.next(), { prefix, scatter: true, n: keys.n })
  const { verdict } = limitedRequest(t, key)
  check(verdict, { 'answered (admitted or denied)': (v) => v !== 'failed' })
}

export const handleSummary = summaryWithAdmission(summaryHandler, 'ratelimiter-many-keys')
