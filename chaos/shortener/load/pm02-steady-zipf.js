// k6 load for shortener/pm02 (cold cache under steady load): a constant arrival rate of redirects
// over KEYS seeded codes (`<PREFIX><rank>`, rank 1 the hottest), Zipf-skewed, spread round-robin
// over every API instance the lab started (BASE_URLS). Each request is tagged op=redirect and
// bounded by a client timeout, so a request stuck behind a cold cache counts as failed instead of
// holding a VU.
//
//   env: RATE (req/s, default 400), KEYS (default 5000), ZIPF_S (default 1.0), PREFIX (pm02-),
//        TIMEOUT (default 1s), DURATION (set by the lab), BASE_URLS / BASE_URL (set by the lab)
import { check } from 'k6'
import http from 'k6/http'
import { assertLoopback, envNumber, envString } from '../../../loadtests/lib/env.js'
import { constantArrivalRate } from '../../../loadtests/lib/scenarios.js'
import { keyName, zipf } from '../../../loadtests/lib/zipf.js'

const targets = envString('BASE_URLS', envString('BASE_URL', 'http://127.0.0.1:3000'))
  .split(',')
  .map((url) => assertLoopback(url.trim()).replace(/\/+$/, ''))
const rate = envNumber('RATE', 400)
const keys = envNumber('KEYS', 5000)
const prefix = envString('PREFIX', 'pm02-')
const timeout = envString('TIMEOUT', '1s')
const redirectStatuses = [301, 302]

export const options = {
  discardResponseBodies: true,
  scenarios: {
    steady: constantArrivalRate({
      rate,
      duration: envString('DURATION', '60s'),
      // Warm, a redirect takes ~1 ms; cold, a miss may hold its VU up to TIMEOUT.
      preAllocatedVUs: Math.max(20, Math.ceil(rate / 4)),
      maxVUs: Math.max(100, rate * 2),
      gracefulStop: '2s',
    }),
  },
}

const expected = http.expectedStatuses(...redirectStatuses)
// One seeded sampler per VU (SEED + VU id): every run draws the same streams.
const codes = zipf({ n: keys, s: envNumber('ZIPF_S', 1.0) })
let n = 0

export default function () {
  const base = targets[(__VU + n++) % targets.length]
  const res = http.get(`${base}/${keyName(codes.next(), { prefix })}`, {
    redirects: 0,
    timeout,
    responseCallback: expected,
    tags: { op: 'redirect', name: 'GET /:code' },
  })
  check(res, { 'redirect: 301 or 302': (r) => redirectStatuses.includes(r.status) })
}
