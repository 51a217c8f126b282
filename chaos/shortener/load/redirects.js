// The shape the shortener experiments' redirect loads share: GETs of codes the experiment created
// beforehand (`<prefix>0000` … `<prefix><CODES-1>`, picked uniformly) at a constant arrival rate,
// round-robin over every API instance (BASE_URLS, set by the lab; with `load.balancer: true` it is
// the lab's readiness-aware balancer). Redirects are not followed; each request is tagged
// op=redirect and bounded by a client timeout. A script passes its defaults and exports the result:
//
//   const load = redirectLoad({ scenario: 'cached', rate: 100, codes: 200, prefix: 'pm04-', … })
//   export const options = load.options
//   export default load.run
//
// env: RATE, CODES, CODE_PREFIX, TIMEOUT override the script's defaults; DURATION and
// BASE_URLS / BASE_URL come from the lab.
import { check } from 'k6'
import http from 'k6/http'
import { assertLoopback, envNumber, envString } from '../../../loadtests/lib/env.js'
import { constantArrivalRate } from '../../../loadtests/lib/scenarios.js'

const redirectStatuses = [301, 302]

/**
 * @param {{ scenario: string, rate: number, codes: number, prefix: string, prefixSuffix?: string,
 *   timeout: string, vusPerRate: { pre: number, max: number }, gracefulStop: string }} defaults
 *   `prefixSuffix` is appended to the prefix, CODE_PREFIX or not (pm04's mode letter).
 *   `vusPerRate`: pre-allocated VUs = rate × pre, maximum = rate × max (at least 10 / 50): a
 *   redirect that may wait up to TIMEOUT needs rate × TIMEOUT VUs to keep the offered rate.
 */
export function redirectLoad(defaults) {
  const targets = envString('BASE_URLS', envString('BASE_URL', 'http://127.0.0.1:3000'))
    .split(',')
    .map((url) => assertLoopback(url.trim()).replace(/\/+$/, ''))
  const rate = envNumber('RATE', defaults.rate)
  const codeCount = envNumber('CODES', defaults.codes)
  const prefix = `${envString('CODE_PREFIX', defaults.prefix)}${defaults.prefixSuffix ?? ''}`
  const timeout = envString('TIMEOUT', defaults.timeout)
  const expected = http.expectedStatuses(...redirectStatuses)
  let n = 0

  const options = {
    discardResponseBodies: true,
    scenarios: {
      [defaults.scenario]: constantArrivalRate({
        rate,
        duration: envString('DURATION', '60s'),
        preAllocatedVUs: Math.max(10, Math.ceil(rate * defaults.vusPerRate.pre)),
        maxVUs: Math.max(50, Math.ceil(rate * defaults.vusPerRate.max)),
        gracefulStop: defaults.gracefulStop,
      }),
    },
  }

  /** The same names the experiment's setup created: prefix + 4-digit index. */
  const code = (i) => `${prefix}${String(i).padStart(4, '0')}`

  function run() {
    const base = targets[(__VU + n++) % targets.length]
    const res = http.get(`${base}/${code(Math.floor(Math.random() * codeCount))}`, {
      redirects: 0,
      timeout,
      responseCallback: expected,
      tags: { op: 'redirect', name: 'GET /:code' },
    })
    check(res, { 'redirect: 301 or 302': (r) => redirectStatuses.includes(r.status) })
  }

  return { options, run }
}
