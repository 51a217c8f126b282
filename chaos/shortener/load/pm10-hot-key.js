// k6 load for shortener/pm10 (hot-key stampede): one hot code requested at a constant arrival
// rate, spread round-robin over every API instance the lab started (BASE_URLS), redirects not
// followed, each request tagged op=redirect and bounded by a client timeout.
//
//   env: RATE (req/s, default 400), CODE (default pm10-hot), TIMEOUT (default 2s),
//        DURATION (set by the lab), BASE_URLS / BASE_URL (set by the lab)
import { check } from 'k6'
import http from 'k6/http'
import { assertLoopback, envNumber, envString } from '../../../loadtests/lib/env.js'
import { constantArrivalRate } from '../../../loadtests/lib/scenarios.js'

const targets = envString('BASE_URLS', envString('BASE_URL', 'http://127.0.0.1:3000'))
  .split(',')
  .map((url) => assertLoopback(url.trim()).replace(/\/+$/, ''))
const code = envString('CODE', 'pm10-hot')
const rate = envNumber('RATE', 400)
const timeout = envString('TIMEOUT', '2s')
const redirectStatuses = [301, 302]

export const options = {
  discardResponseBodies: true,
  scenarios: {
    hot: constantArrivalRate({
      rate,
      duration: envString('DURATION', '60s'),
      // Redirects take ~1 ms; the pool only grows while a miss waits on Postgres.
      preAllocatedVUs: Math.max(10, Math.ceil(rate / 10)),
      maxVUs: Math.max(50, rate),
      gracefulStop: '3s',
    }),
  },
}

const expected = http.expectedStatuses(...redirectStatuses)
let n = 0

export default function () {
  const base = targets[(__VU + n++) % targets.length]
  const res = http.get(`${base}/${code}`, {
    redirects: 0,
    timeout,
    responseCallback: expected,
    tags: { op: 'redirect', name: 'GET /:code' },
  })
  check(res, { 'redirect: 301 or 302': (r) => redirectStatuses.includes(r.status) })
}
