// Shortener smoke test: does every endpoint answer the way the API promises? A few iterations from
// one VU, each creating a link, following it (without following the redirect: `redirects: 0`, so
// the 301/302 itself is checked), reading it back, and probing the 4xx answers. Every check must
// pass (MIN_CHECK_RATE defaults to 1 here).
//
//   k6 run loadtests/shortener/smoke.js
//   k6 run -e BASE_URL=http://127.0.0.1:3000 -e ITERATIONS=20 -e SUMMARY_PATH=results/shortener/smoke.json loadtests/shortener/smoke.js

import { check, sleep } from 'k6'
import exec from 'k6/execution'
import http from 'k6/http'
import { envNumber } from '../lib/env.js'
import * as ledger from '../lib/ledger.js'
import { baseUrl, selectScenario, smoke } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { checkThresholds, httpThresholds, mergeThresholds } from '../lib/thresholds.js'
import { createLink, redirect, redirectStatuses, targetUrl } from './common.js'

const base = baseUrl('http://127.0.0.1:3000')

export const options = {
  scenarios: selectScenario({ smoke: () => smoke({ iterations: 5, maxDuration: '60s' }) }, 'smoke'),
  thresholds: mergeThresholds(
    httpThresholds({ p99Ms: envNumber('P99_MS', 1000) }),
    checkThresholds({ minRate: envNumber('MIN_CHECK_RATE', 1) }),
  ),
  maxRedirects: 0,
  summaryTrendStats,
}

const json = { 'content-type': 'application/json' }

function post(body, expected, tags) {
  return http.post(`${base}/api/links`, JSON.stringify(body), {
    headers: json,
    responseType: 'text',
    responseCallback: http.expectedStatuses(...expected),
    tags: { op: 'create', name: 'POST /api/links', ...tags },
  })
}

export default function () {
  const url = targetUrl('smoke')
  const created = createLink(base, { url })
  ledger.fromResponse('create', url, created.res)
  check(created.res, {
    'create: 201': (r) => r.status === 201,
    'create: has code': () => typeof created.code === 'string' && created.code.length > 0,
    'create: shortUrl ends with the code': (r) =>
      r.status === 201 && String(r.json('shortUrl')).endsWith(`/${created.code}`),
  })
  if (created.code === undefined) return

  const res = redirect(base, created.code)
  check(res, {
    'redirect: 301 or 302': (r) => redirectStatuses.includes(r.status),
    'redirect: Location is the target': (r) => r.headers.Location === url,
    'redirect: has Cache-Control': (r) => r.headers['Cache-Control'] !== undefined,
  })

  const info = http.get(`${base}/api/links/${created.code}`, {
    responseType: 'text',
    tags: { op: 'read', name: 'GET /api/links/:code' },
  })
  check(info, {
    'info: 200': (r) => r.status === 200,
    'info: same url': (r) => r.status === 200 && r.json('url') === url,
  })

  const unknown = http.get(`${base}/zz${Date.now().toString(36)}unknown`, {
    redirects: 0,
    responseCallback: http.expectedStatuses(404),
    tags: { op: 'redirect', name: 'GET /:code (unknown)' },
  })
  check(unknown, { 'unknown code: 404': (r) => r.status === 404 })

  for (const bad of ['javascript:alert(1)', 'data:text/html,hi', 'ftp://example.com/x', 'not a url']) {
    const rejected = post({ url: bad }, [400], { case: 'bad-url' })
    check(rejected, { 'bad url: 400': (r) => r.status === 400 })
  }
  const tooLong = post({ url: `https://example.com/${'a'.repeat(2100)}` }, [400], { case: 'too-long' })
  check(tooLong, { 'url over 2048 chars: 400': (r) => r.status === 400 })

  // An alias is taken once; the second create of it is a 409.
  const alias = `smoke${exec.vu.idInTest}x${Date.now().toString(36)}${exec.scenario.iterationInTest}`
  const first = post({ url, alias }, [201], { case: 'alias' })
  check(first, { 'alias: 201 with that code': (r) => r.status === 201 && r.json('code') === alias })
  const second = post({ url, alias }, [409], { case: 'alias-taken' })
  check(second, { 'alias taken: 409': (r) => r.status === 409 })

  // Once per run: a link that expires answers 410 after its expiry.
  if (exec.scenario.iterationInTest === 0) {
    const expiring = post({ url, expiresAt: new Date(Date.now() + 1500).toISOString() }, [201], {
      case: 'expiring',
    })
    check(expiring, { 'expiring: 201': (r) => r.status === 201 })
    if (expiring.status === 201) {
      sleep(2.5)
      const gone = http.get(`${base}/${expiring.json('code')}`, {
        redirects: 0,
        responseCallback: http.expectedStatuses(410),
        tags: { op: 'redirect', name: 'GET /:code (expired)' },
      })
      check(gone, { 'expired: 410': (r) => r.status === 410 })
    }
  }
}

export const handleSummary = summaryHandler('shortener-smoke')
