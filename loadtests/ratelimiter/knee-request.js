// The one request the bench's scripts send to the decision service (step-ramp.js for the knee,
// knee-throughput.js for the benchmark against bare Fastify), built from what the bench passes:
// BASE_URL, TARGET_PATH and CODES_FILE (services/ratelimiter/src/bench-target.ts, and
// packages/bench/src/target.ts for the contract). Plain k6 JavaScript.
//
//   TARGET_PATH  `/v1/decide?api_key={code}` (the default): POST /v1/decide with
//                `{"domain": DOMAIN, "descriptors": [{"key": "api_key", "value": <code>}]}` — the
//                query names the descriptors (`{code}` is a key from CODES_FILE), it is not sent;
//                several pairs (`?tenant=acme&api_key={code}`) are several entries of one descriptor;
//                a path without a query (`/`, the bare Fastify hello-world) is a plain GET.
//   CODES_FILE   a JSON array of keys (the knee writes one after warming them); else KEYS keys
//                (default 1000) named `knee-<n>`.
//   DOMAIN       the rules' domain (default `bench`: services/ratelimiter/bench/rules-bench.yaml).
//   EXPECT_STATUS  what counts as a success (default 200: an admitted or denied decision, and the
//                hello's answer, are both 200).
//
// No check() and no body parsing per request: at thousands of requests per second they would cost
// the generator CPU. A decision the service answered fail-open is a 200 too; the service counts
// those (`ratelimit_degraded_total`) and the knee reads them from its /metrics.

import { SharedArray } from 'k6/data'
import http from 'k6/http'
import { baseUrl, envNumber, envString } from '../lib/env.js'

/** Keys from CODES_FILE (shared read-only between VUs), else KEYS generated ones. Init context only. */
export function kneeKeys() {
  const path = envString('CODES_FILE', '')
  return new SharedArray('keys', () => {
    if (path === '') return Array.from({ length: envNumber('KEYS', 1000) }, (_, i) => `knee-${i}`)
    const keys = JSON.parse(open(path))
    if (!Array.isArray(keys) || keys.length === 0)
      throw new Error(`${path}: expected a non-empty JSON array of keys`)
    return keys.map(String)
  })
}

/** `?a=x&b={code}` → `[["a", "x"], ["b", "{code}"]]`. */
function queryPairs(query) {
  return query
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const eq = pair.indexOf('=')
      if (eq <= 0) throw new Error(`TARGET_PATH: "${pair}" is not key=value`)
      return [decodeURIComponent(pair.slice(0, eq)), decodeURIComponent(pair.slice(eq + 1))]
    })
}

/**
 * The request of TARGET_PATH: `send(base, key, tags)`. `needsKeys` says whether it uses a key at
 * all (the hello's `/` does not).
 */
export function kneeRequest() {
  const template = envString('TARGET_PATH', '/v1/decide?api_key={code}')
  const [path, query] = template.split('?', 2)
  const expected = envString('EXPECT_STATUS', '200')
    .split(',')
    .map((s) => Number(s.trim()))
  const responseCallback = http.expectedStatuses(...expected)
  if (query === undefined) {
    const params = { responseCallback, tags: { name: `GET ${path}` } }
    return {
      needsKeys: false,
      send: (base, _key, tags) =>
        http.get(`${base}${path}`, { ...params, tags: { ...params.tags, ...tags } }),
    }
  }
  const pairs = queryPairs(query)
  const domain = JSON.stringify(envString('DOMAIN', 'bench'))
  // The body is the same text around the key: built once, the key spliced in per request.
  const entry = ([key, value]) =>
    `{"key":${JSON.stringify(key)},"value":${value === '{code}' ? '\u0000' : JSON.stringify(value)}}`
  const descriptor = pairs.length === 1 ? entry(pairs[0]) : `{"entries":[${pairs.map(entry).join(',')}]}`
  const parts = `{"domain":${domain},"descriptors":[${descriptor}]}`.split('\u0000')
  if (parts.length !== 2) throw new Error(`TARGET_PATH ${template}: exactly one value must be {code}`)
  const [head, tail] = parts
  const params = {
    headers: { 'content-type': 'application/json' },
    responseCallback,
    tags: { name: `POST ${path}` },
  }
  return {
    needsKeys: true,
    send: (base, key, tags) =>
      http.post(`${base}${path}`, `${head}${JSON.stringify(key)}${tail}`, {
        ...params,
        tags: { ...params.tags, ...tags },
      }),
  }
}

/**
 * The knee scripts' traffic (step-ramp.js, knee-throughput.js through loadtests/lib/bench.js): this
 * request to BASE_URL (default the bench's decision service, :3320) over kneeKeys(). No setup():
 * a key needs nothing created first. Init context only (it may open CODES_FILE).
 */
export function kneeTraffic() {
  const base = baseUrl('http://127.0.0.1:3320')
  const request = kneeRequest()
  const keys = request.needsKeys ? kneeKeys() : []
  return {
    needsKeys: request.needsKeys,
    keys: () => keys,
    send: (key, tags) => request.send(base, key, tags),
  }
}
