// What every shortener load test shares: the two operations (create a link, follow a code without
// following the redirect), the set of codes to read, and how a request path is built. Plain k6
// JavaScript, imported by smoke.js, mixed.js, step-ramp.js, spike.js and throughput.js.
//
// Codes come from one of two places:
//   CODES_FILE  a JSON array of codes created beforehand (the knee finder and the benchmark write
//               one after creating and warming the codes, so setup time is not part of the run);
//   setup()     otherwise the script creates KEYS links itself (createCodes below).

import { check } from 'k6'
import { SharedArray } from 'k6/data'
import http from 'k6/http'
import { baseUrl, envNumber, envString } from '../lib/env.js'
import * as ledger from '../lib/ledger.js'
import { zipf } from '../lib/zipf.js'

/** Redirect statuses the service may answer with (301 or 302 is a config switch of the service). */
export const redirectStatuses = [301, 302]

const redirectExpected = http.expectedStatuses(...redirectStatuses)
const createExpected = http.expectedStatuses(201)

/**
 * Codes from CODES_FILE, shared read-only between VUs (one copy in memory, not one per VU). Empty
 * when CODES_FILE is unset. Must be called in the init context (k6's open() only works there).
 */
export function codesFromFile() {
  const path = envString('CODES_FILE', '')
  if (path === '') return []
  return new SharedArray('codes', () => {
    const codes = JSON.parse(open(path))
    if (!Array.isArray(codes) || codes.length === 0)
      throw new Error(`${path}: expected a non-empty JSON array of codes`)
    return codes.map(String)
  })
}

/** A target URL for a link: unique per call, so creates never collide on the same URL. */
export function targetUrl(tag) {
  return `https://example.com/${tag}/${__VU}-${__ITER}-${Math.floor(Math.random() * 1e9).toString(36)}`
}

/**
 * POST /api/links. Returns `{ res, code }`: `code` is the new code on a 201 with one, else
 * undefined. Tagged op=create and name=`POST /api/links` (one time series, not one per URL).
 */
export function createLink(base, body, extraTags = {}) {
  const res = http.post(`${base}/api/links`, JSON.stringify(body), {
    headers: { 'content-type': 'application/json' },
    responseType: 'text',
    responseCallback: createExpected,
    tags: { op: 'create', name: 'POST /api/links', ...extraTags },
  })
  let code
  if (res.status === 201) {
    try {
      code = res.json('code')
    } catch {
      // Left undefined: the caller's check reports a 201 without a code.
    }
  }
  return { res, code }
}

/**
 * GET /:code without following the redirect (`redirects: 0`), so the redirect itself is what is
 * timed. Tagged op=redirect and name=`GET /:code`.
 */
export function redirect(base, code, extraTags = {}) {
  return http.get(`${base}/${code}`, {
    redirects: 0,
    responseCallback: redirectExpected,
    tags: { op: 'redirect', name: 'GET /:code', ...extraTags },
  })
}

/**
 * setup() helper: creates `count` links (KEYS, default 1000) in batches of 50 parallel requests and
 * returns their codes. Fails the run if fewer than 99% were created: a load test over a handful of
 * codes would measure something else.
 */
export function createCodes(base, count = envNumber('KEYS', 1000)) {
  const codes = []
  const batchSize = 50
  for (let start = 0; start < count; start += batchSize) {
    const size = Math.min(batchSize, count - start)
    const requests = []
    for (let i = 0; i < size; i++) {
      requests.push({
        method: 'POST',
        url: `${base}/api/links`,
        body: JSON.stringify({ url: `https://example.com/seed/${start + i}-${Date.now().toString(36)}` }),
        params: {
          headers: { 'content-type': 'application/json' },
          responseType: 'text',
          responseCallback: createExpected,
          tags: { op: 'create', name: 'POST /api/links', phase: 'setup' },
        },
      })
    }
    for (const res of http.batch(requests)) {
      if (res.status !== 201) continue
      try {
        codes.push(String(res.json('code')))
      } catch {
        // A 201 without a code is counted as missing below.
      }
    }
  }
  if (codes.length < count * 0.99) {
    throw new Error(`setup created only ${codes.length} of ${count} links at ${base}/api/links`)
  }
  return codes
}

/**
 * setup() helper: GETs every code once, so the runs that follow read a warm cache. Parallel in
 * batches of 50; returns how many answered with a redirect.
 */
export function warmCodes(base, codes) {
  let redirected = 0
  for (let start = 0; start < codes.length; start += 50) {
    const requests = codes.slice(start, start + 50).map((code) => ({
      method: 'GET',
      url: `${base}/${code}`,
      params: {
        redirects: 0,
        responseCallback: redirectExpected,
        tags: { op: 'redirect', name: 'GET /:code', phase: 'setup' },
      },
    }))
    for (const res of http.batch(requests)) if (redirectStatuses.includes(res.status)) redirected++
  }
  return redirected
}

/**
 * The GET the measuring scripts (step-ramp.js, throughput.js) send, built from TARGET_PATH: `{code}`
 * is replaced by a code (default `/{code}`: a redirect); a path without it (e.g. `/` of a bare
 * Fastify hello-world) is requested as is, so the same script measures the shortener and a
 * baseline. EXPECT_STATUS ("301,302" for a path with `{code}`, else "200") is what counts as a
 * success; OP (`redirect` or `baseline`) tags the requests.
 */
export function target() {
  const template = envString('TARGET_PATH', '/{code}')
  const needsCodes = template.includes('{code}')
  const rawExpected = envString('EXPECT_STATUS', needsCodes ? redirectStatuses.join(',') : '200')
  const expected = rawExpected.split(',').map((s) => Number(s.trim()))
  const responseCallback = http.expectedStatuses(...expected)
  const op = envString('OP', needsCodes ? 'redirect' : 'baseline')
  const name = needsCodes ? `GET ${template.replace('{code}', ':code')}` : `GET ${template}`
  return {
    template,
    needsCodes,
    expected,
    op,
    path: (code) => (needsCodes ? template.replace('{code}', code) : template),
    get: (base, code, extraTags) =>
      http.get(`${base}${needsCodes ? template.replace('{code}', code) : template}`, {
        redirects: 0,
        responseCallback,
        tags: { op, name, ...extraTags },
      }),
  }
}

/**
 * The bench scripts' traffic (step-ramp.js, throughput.js through loadtests/lib/bench.js): target()
 * to BASE_URL over the codes of CODES_FILE, else KEYS links (default `defaultKeys`) that setup()
 * creates and warms. Init context only (it may open CODES_FILE).
 */
export function benchTraffic(defaultKeys) {
  const base = baseUrl('http://127.0.0.1:3000')
  const request = target()
  const fileCodes = codesFromFile()
  return {
    needsKeys: request.needsCodes,
    keys: (data) => (fileCodes.length > 0 ? fileCodes : data.codes),
    send: (code, tags) => request.get(base, code, tags),
    setup() {
      if (!request.needsCodes || fileCodes.length > 0) return { codes: [] }
      const codes = createCodes(base, envNumber('KEYS', defaultKeys))
      warmCodes(base, codes)
      return { codes }
    },
    options: { maxRedirects: 0, setupTimeout: '120s' },
  }
}

/**
 * The open-model scripts' two operations (mixed.js, spike.js), checked and written to the ledger.
 * `fileCodes` is codesFromFile() (called in the init context); without it the codes are the ones
 * `setup()` created.
 *   setup()            → { codes }: createCodes(base) unless CODES_FILE gave them
 *   redirect(data, t)  one Zipf-skewed GET /:code (ZIPF_S, default 1.0), extra tags `t`
 *   create(tag)        one POST /api/links of a fresh URL
 */
export function zipfReadsAndCreates(base, fileCodes) {
  let sampler
  return {
    setup() {
      return { codes: fileCodes.length > 0 ? [] : createCodes(base) }
    },
    redirect(data, extraTags = {}) {
      const codes = fileCodes.length > 0 ? fileCodes : data.codes
      // One sampler per VU (lazily: n is only known once setup() ran), seeded with SEED + VU id.
      sampler ??= zipf({ n: codes.length, s: envNumber('ZIPF_S', 1.0) })
      const code = codes[sampler.nextIndex()]
      const res = redirect(base, code, extraTags)
      check(res, { 'redirect: 301 or 302': (r) => redirectStatuses.includes(r.status) })
      ledger.fromResponse('redirect', code, res, { ackStatuses: redirectStatuses })
    },
    create(tag) {
      const url = targetUrl(tag)
      const { res, code } = createLink(base, { url })
      check(res, { 'create: 201 with a code': (r) => r.status === 201 && code !== undefined })
      ledger.fromResponse('create', url, res)
    },
  }
}
