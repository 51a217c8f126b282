// The smallest complete Faultline load test: a named scenario chosen by SCENARIO, __ENV defaults,
// thresholds, skewed keys, the ledger, and the JSON summary.
//
//   k6 run -e BASE_URL=http://127.0.0.1:3000 loadtests/lib/example-smoke.js
//   k6 run -e SCENARIO=steady -e RATE=20 -e DURATION=5s -e SUMMARY_PATH=results/example.json loadtests/lib/example-smoke.js

import { check } from 'k6'
import http from 'k6/http'
import * as ledger from './ledger.js'
import { baseUrl, constantArrivalRate, selectScenario, smoke, spike, stepRamp } from './scenarios.js'
import { summaryHandler, summaryTrendStats } from './summary.js'
import { checkThresholds, httpThresholds, mergeThresholds } from './thresholds.js'
import { keyName, zipf } from './zipf.js'

const base = baseUrl('http://127.0.0.1:3000')
const path = __ENV.TARGET_PATH || '/'
const keys = zipf({ n: 1000, s: 1.1 })

export const options = {
  scenarios: selectScenario(
    {
      smoke: () => smoke(),
      steady: () => constantArrivalRate({ rate: 20, duration: '10s' }),
      knee: () => stepRamp({ startRate: 10, step: 10, steps: 3, stepDuration: '5s' }),
      spike: () =>
        spike({
          baseRate: 10,
          spikeRate: 50,
          baseDuration: '5s',
          spikeDuration: '5s',
          recoveryDuration: '5s',
        }),
    },
    'smoke',
  ),
  thresholds: mergeThresholds(httpThresholds(), checkThresholds()),
  summaryTrendStats,
}

export default function () {
  const key = keyName(keys.next())
  const res = http.get(`${base}${path}?key=${key}`, { tags: { name: 'example' } })
  check(res, { 'status is 2xx': (r) => r.status >= 200 && r.status < 300 })
  ledger.fromResponse('read', key, res)
}

export const handleSummary = summaryHandler('example-smoke')
