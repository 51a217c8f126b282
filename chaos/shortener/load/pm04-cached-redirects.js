// k6 load for shortener/pm04 (Kafka and Postgres down together): redirects of codes the
// experiment created and cached beforehand, at a constant arrival rate, spread round-robin over
// every API instance (BASE_URLS). Codes are `<CODE_PREFIX><n|h>-0000` …: the letter is the mode
// (LAB_MODE, set by the lab), so each mode counts clicks on its own codes and a click of one run
// can never be mistaken for one of another. Redirects are not followed; each request is tagged
// op=redirect and bounded by a client timeout.
//
//   env: RATE (req/s, default 100), CODES (default 200), CODE_PREFIX (default pm04-),
//        TIMEOUT (default 2s), LAB_MODE, DURATION and BASE_URLS / BASE_URL (set by the lab)
import { check } from 'k6'
import http from 'k6/http'
import { assertLoopback, envNumber, envString } from '../../../loadtests/lib/env.js'
import { constantArrivalRate } from '../../../loadtests/lib/scenarios.js'

const targets = envString('BASE_URLS', envString('BASE_URL', 'http://127.0.0.1:3000'))
  .split(',')
  .map((url) => assertLoopback(url.trim()).replace(/\/+$/, ''))
const rate = envNumber('RATE', 100)
const codeCount = envNumber('CODES', 200)
const prefix = `${envString('CODE_PREFIX', 'pm04-')}${envString('LAB_MODE', 'naive') === 'hardened' ? 'h' : 'n'}-`
const timeout = envString('TIMEOUT', '2s')
const redirectStatuses = [301, 302]

export const options = {
  discardResponseBodies: true,
  scenarios: {
    cached: constantArrivalRate({
      rate,
      duration: envString('DURATION', '60s'),
      // Cached redirects take ~1 ms and never wait on Kafka or Postgres.
      preAllocatedVUs: Math.max(10, Math.ceil(rate / 10)),
      maxVUs: Math.max(50, rate * 2),
      gracefulStop: '3s',
    }),
  },
}

const expected = http.expectedStatuses(...redirectStatuses)
let n = 0

/** The same names the experiment's setup created: prefix + mode letter + 4-digit index. */
function code(i) {
  return `${prefix}${String(i).padStart(4, '0')}`
}

export default function () {
  const base = targets[(__VU + n++) % targets.length]
  const res = http.get(`${base}/${code(Math.floor(Math.random() * codeCount))}`, {
    redirects: 0,
    timeout,
    responseCallback: expected,
    tags: { op: 'redirect', name: 'GET /:code' },
  })
  check(res, { 'redirect: 301 or 302': (r) => redirectStatuses.includes(r.status) })
}
