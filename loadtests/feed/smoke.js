// Feed smoke test: does every endpoint answer the way the API promises (issue 11)? A few iterations
// from one VU, each with two fresh users: follow (idempotent), post, read the post back, see it at
// once in the author's own timeline (read-your-writes) and, after the fan-out (outbox → relay →
// Kafka → worker), in the follower's; page with the cursor (newest first, no duplicate across
// pages); delete (gone from the timeline); unfollow (the author's posts leave the timeline); and the
// 4xx answers: 400 naming the field, 404 for unknown and malformed ids. Every check must pass
// (MIN_CHECK_RATE defaults to 1 here). Needs the API, the relay and the worker running:
//
//   ./faultline up feed
//   k6 run loadtests/feed/smoke.js                                   # BASE_URL=http://127.0.0.1:18100
//   k6 run -e ITERATIONS=3 -e SUMMARY_PATH=results/feed/smoke.json loadtests/feed/smoke.js
//
// Env: ITERATIONS (3), VISIBLE_TIMEOUT_MS (15000: how long a post may take to reach the follower).

import { check, sleep } from 'k6'
import http from 'k6/http'
import { envNumber } from '../lib/env.js'
import * as ledger from '../lib/ledger.js'
import { baseUrl, selectScenario, smoke } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { checkThresholds, httpThresholds, mergeThresholds } from '../lib/thresholds.js'
import {
  createPost,
  createUser,
  defaultBaseUrl,
  deletePost,
  follow,
  readTimeline,
  strictlyDescending,
  summaryWithVisibility,
  uniqueHandle,
  waitVisible,
} from './common.js'

const base = baseUrl(defaultBaseUrl)
const visibleTimeoutMs = envNumber('VISIBLE_TIMEOUT_MS', 15_000)

export const options = {
  scenarios: selectScenario({ smoke: () => smoke({ iterations: 3, maxDuration: '120s' }) }, 'smoke'),
  thresholds: mergeThresholds(
    // Polling the follower's timeline until the post arrives is most of the requests: p99 is loose.
    httpThresholds({ p99Ms: envNumber('P99_MS', 2000) }),
    checkThresholds({ minRate: envNumber('MIN_CHECK_RATE', 1) }),
  ),
  summaryTrendStats,
}

function errorNames(res, field) {
  try {
    const body = res.json()
    return res.status === 400 && (body.field === field || String(body.message).includes(field))
  } catch {
    return false
  }
}

function probeErrors(alice) {
  const bad = (body, name) =>
    http.post(`${base}/api/users`, body, {
      headers: { 'content-type': 'application/json' },
      responseCallback: http.expectedStatuses(400),
      responseType: 'text',
      tags: { op: 'user', name: 'POST /api/users (bad)', case: name },
    })
  check(bad('{}', 'missing'), {
    'user without handle: 400 naming body.handle': (r) => errorNames(r, 'handle'),
  })
  check(bad('{"handle": 42}', 'type'), {
    'handle not a string: 400 naming it': (r) => errorNames(r, 'handle'),
  })
  check(bad('{"handle":', 'json'), { 'malformed JSON: 400': (r) => r.status === 400 })
  const emptyPost = http.post(`${base}/api/users/${alice}/posts`, '{"text": 7}', {
    headers: { 'content-type': 'application/json' },
    responseCallback: http.expectedStatuses(400),
    responseType: 'text',
    tags: { op: 'post', name: 'POST /api/users/:id/posts (bad)' },
  })
  check(emptyPost, { 'post text not a string: 400 naming body.text': (r) => errorNames(r, 'text') })
  const notFound = http.expectedStatuses(404)
  const unknown = `9${Date.now()}`
  for (const [path, name] of [
    [`/api/users/${unknown}/timeline`, 'unknown user timeline'],
    ['/api/users/abc/timeline', 'malformed user id'],
    [`/api/posts/${unknown}`, 'unknown post'],
    ['/api/posts/-1', 'malformed post id'],
  ]) {
    const res = http.get(`${base}${path}`, { responseCallback: notFound, tags: { op: 'probe', name } })
    check(res, { [`${name}: 404`]: (r) => r.status === 404 })
  }
  const followUnknown = http.put(`${base}/api/users/${alice}/follows/${unknown}`, null, {
    responseCallback: notFound,
    tags: { op: 'follow', name: 'PUT follows (unknown target)' },
  })
  check(followUnknown, { 'follow an unknown user: 404': (r) => r.status === 404 })
}

/** Polls until `pred(page)` holds or the timeout passes; returns whether it held. */
function eventually(userId, pred) {
  const deadline = Date.now() + visibleTimeoutMs
  for (;;) {
    const { page } = readTimeline(base, userId, { limit: 50, tags: { probe: 'eventually' } })
    if (page !== undefined && pred(page)) return true
    if (Date.now() > deadline) return false
    sleep(0.1)
  }
}

export default function () {
  const alice = createUser(base, uniqueHandle('smokea'))
  const bob = createUser(base, uniqueHandle('smokeb'))
  check(alice.res, {
    'create user: 201 with id and handle': (r) =>
      r.status === 201 && alice.id !== undefined && r.json('handle') !== '',
  })
  if (alice.id === undefined || bob.id === undefined) return
  const taken = http.post(`${base}/api/users`, JSON.stringify({ handle: alice.res.json('handle') }), {
    headers: { 'content-type': 'application/json' },
    responseCallback: http.expectedStatuses(409),
    tags: { op: 'user', name: 'POST /api/users (taken)' },
  })
  check(taken, { 'handle taken: 409': (r) => r.status === 409 })
  probeErrors(alice.id)

  check(follow(base, bob.id, alice.id), { 'follow: 204': (r) => r.status === 204 })
  check(follow(base, bob.id, alice.id), { 'follow again: 204 (idempotent)': (r) => r.status === 204 })

  const { res, post } = createPost(base, alice.id, `hello from smoke ${__ITER}`)
  ledger.fromResponse('post', post?.id ?? 'none', res)
  check(res, {
    'post: 201 with id, authorId, text, createdAt': () =>
      post !== undefined &&
      post.authorId === alice.id &&
      typeof post.createdAt === 'string' &&
      post.id !== '',
  })
  if (post === undefined) return
  const read = http.get(`${base}/api/posts/${post.id}`, {
    responseType: 'text',
    tags: { op: 'read', name: 'GET /api/posts/:id' },
  })
  check(read, { 'get post: 200, same text': (r) => r.status === 200 && r.json('text') === post.text })

  const own = readTimeline(base, alice.id)
  check(own.res, { "author's own timeline has the post at once": () => own.page?.items?.[0]?.id === post.id })
  const ms = waitVisible(base, bob.id, post, { kind: 'smoke' }, { timeoutMs: visibleTimeoutMs })
  check(ms, { "follower's timeline has the post (fan-out)": (v) => v !== undefined })

  // Three more posts, then two pages of two: newest first, the cursor continues without repeating.
  const more = []
  for (let i = 0; i < 3; i++) more.push(createPost(base, alice.id, `more ${i}`).post)
  const newest = more[2]
  const allThere = newest !== undefined && eventually(bob.id, (p) => p.items.some((x) => x.id === newest.id))
  const first = readTimeline(base, bob.id, { limit: 2 })
  const second = readTimeline(base, bob.id, { limit: 2, cursor: first.page?.nextCursor ?? '' })
  const ids = [...(first.page?.items ?? []), ...(second.page?.items ?? [])].map((p) => p.id)
  check(second.res, {
    'pages: 2 + 2 items, newest first, no duplicate': () =>
      allThere && ids.length === 4 && strictlyDescending(ids),
  })

  check(deletePost(base, post.id), { 'delete post: 204': (r) => r.status === 204 })
  check(deletePost(base, post.id), { 'delete again: 204': (r) => r.status === 204 })
  const gone = http.get(`${base}/api/posts/${post.id}`, {
    responseCallback: http.expectedStatuses(404),
    tags: { op: 'read', name: 'GET /api/posts/:id (deleted)' },
  })
  check(gone, { 'deleted post: 404': (r) => r.status === 404 })
  check(null, {
    'deleted post leaves the timeline': () =>
      eventually(bob.id, (p) => !p.items.some((x) => x.id === post.id)),
  })

  check(follow(base, bob.id, alice.id, {}, true), { 'unfollow: 204': (r) => r.status === 204 })
  check(null, {
    "after unfollow, none of the author's posts": () =>
      eventually(bob.id, (p) => !p.items.some((x) => x.authorId === alice.id)),
  })
}

export const handleSummary = summaryWithVisibility(summaryHandler, 'feed-smoke')
