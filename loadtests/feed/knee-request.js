// The one request the bench's scripts send to the feed (step-ramp.js for the knee,
// knee-throughput.js for the benchmark against bare Fastify), built from what the bench passes:
// BASE_URL, TARGET_PATH and CODES_FILE (services/feed/src/bench-target.ts, and
// packages/bench/src/target.ts for the contract). Plain k6 JavaScript.
//
//   TARGET_PATH  default `/api/users/{code}/timeline?limit=20`: the first page of a warm home
//                timeline (`{code}` is a user id); a path without `{code}` (`/`, the bare Fastify
//                hello-world) is requested as is, so the same script measures the ceiling.
//   CODES_FILE   a JSON array of user ids (the bench writes one after seeding and warming them);
//                else USERS_FILE (a seed's ids); else setup() builds a small graph through the API
//                (common.js buildGraph: USERS, POSTS, FOLLOWS) and reads each timeline once.
//   EXPECT_STATUS  what counts as a success (default 200: a 206 — a cold timeline still being
//                rebuilt — is a degraded answer and counts as failed here).
//
// No check() and no body parsing per request: at thousands of requests per second they would cost
// the generator CPU; a wrong status counts in http_req_failed instead.

import { SharedArray } from 'k6/data'
import http from 'k6/http'
import { baseUrl, envString } from '../lib/env.js'
import { buildGraph, defaultBaseUrl } from './common.js'

/** User ids from CODES_FILE or USERS_FILE (shared read-only between VUs), else []. Init context only. */
export function kneeUsers() {
  const path = envString('CODES_FILE', '') || envString('USERS_FILE', '')
  if (path === '') return []
  return new SharedArray('knee-users', () => {
    const parsed = JSON.parse(open(path))
    const ids = Array.isArray(parsed) ? parsed : parsed.users
    if (!Array.isArray(ids) || ids.length === 0)
      throw new Error(`${path}: expected a non-empty JSON array of user ids`)
    return ids.map(String)
  })
}

/** The request of TARGET_PATH: `{ needsUsers, get(base, userId, tags) }`. */
export function kneeRequest() {
  const template = envString('TARGET_PATH', '/api/users/{code}/timeline?limit=20')
  const needsUsers = template.includes('{code}')
  const expected = envString('EXPECT_STATUS', '200')
    .split(',')
    .map((s) => Number(s.trim()))
  const params = {
    responseCallback: http.expectedStatuses(...expected),
    tags: { name: `GET ${template.replace('{code}', ':id').replace(/\?.*$/, '')}` },
  }
  return {
    needsUsers,
    get: (base, userId, tags) =>
      http.get(`${base}${needsUsers ? template.replace('{code}', userId) : template}`, {
        ...params,
        tags: { ...params.tags, ...tags },
      }),
  }
}

/**
 * setup() of the knee scripts: nothing when the request needs no users or a file gave them; else a
 * graph through the API, each timeline read once (warm: built, and its posts cached).
 */
export function kneeSetup(base, request, fileUsers) {
  if (!request.needsUsers || fileUsers.length > 0) return { users: [] }
  const { users } = buildGraph(base, 'knee')
  for (let i = 0; i < users.length; i += 50) {
    http.batch(users.slice(i, i + 50).map((id) => ['GET', `${base}/api/users/${id}/timeline?limit=20`]))
  }
  return { users }
}

/**
 * The knee scripts' traffic (step-ramp.js, knee-throughput.js through loadtests/lib/bench.js): this
 * request to BASE_URL over the users of CODES_FILE / USERS_FILE, else those setup() builds. Init
 * context only (it may open the file).
 */
export function kneeTraffic() {
  const base = baseUrl(defaultBaseUrl)
  const request = kneeRequest()
  const fileUsers = request.needsUsers ? kneeUsers() : []
  return {
    needsKeys: request.needsUsers,
    keys: (data) => (fileUsers.length > 0 ? fileUsers : data.users),
    send: (userId, tags) => request.get(base, userId, tags),
    setup: () => kneeSetup(base, request, fileUsers),
    options: { setupTimeout: '300s' },
  }
}
