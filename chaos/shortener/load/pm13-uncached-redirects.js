// k6 load for shortener/pm13 (migration lock): redirects spread uniformly over many codes the
// experiment created (`<CODE_PREFIX>0000` … `<CODE_PREFIX><CODES-1>`). The experiment runs the
// services with a 1 s cache TTL, so most of these requests miss Redis and read `links` in
// Postgres — the table the migration alters. Constant arrival rate, round-robin over BASE_URLS,
// redirects not followed, each request tagged op=redirect and bounded by a client timeout (longer
// than the 1 s the invariant allows, so a blocked redirect shows as a slow one, not only as a
// failure).
//
//   env: RATE (req/s, default 100), CODES (default 500), CODE_PREFIX (default pm13-),
//        TIMEOUT (default 3s), DURATION and BASE_URLS / BASE_URL (set by the lab)
import { check } from 'k6'
import http from 'k6/http'
import { assertLoopback, envNumber, envString } from '../../../loadtests/lib/env.js'
import { constantArrivalRate } from '../../../loadtests/lib/scenarios.js'

const targets = envString('BASE_URLS', envString('BASE_URL', 'http://127.0.0.1:3000'))
  .split(',')
  .map((url) => assertLoopback(url.trim()).replace(/\/+$/, ''))
const rate = envNumber('RATE', 100)
const codeCount = envNumber('CODES', 500)
const prefix = envString('CODE_PREFIX', 'pm13-')
const timeout = envString('TIMEOUT', '3s')
const redirectStatuses = [301, 302]

export const options = {
  discardResponseBodies: true,
  scenarios: {
    uncached: constantArrivalRate({
      rate,
      duration: envString('DURATION', '60s'),
      // A redirect that reads Postgres takes a few ms; while the DDL blocks, requests pile up for
      // up to TIMEOUT, so the VU pool must cover rate × TIMEOUT to keep the offered load constant.
      preAllocatedVUs: Math.max(10, Math.ceil(rate / 5)),
      maxVUs: Math.max(50, Math.ceil(rate * 4)),
      gracefulStop: '5s',
    }),
  },
}

const expected = http.expectedStatuses(...redirectStatuses)
let n = 0

/** The same names the experiment's setup created: prefix + 4-digit index. */
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
