// What every feed load test shares: the API's operations (create a user, follow, post, delete, read
// a timeline page and follow its cursor), the users to act as, and the small graph setup() builds
// when no seed gave one. Plain k6 JavaScript, imported by every script of loadtests/feed/.
//
// Users come from one of two places:
//   USERS_FILE  a JSON array of user ids (decimal strings), or an object `{ "users": [...],
//               "authors": [...] }`, written by a seed (services/feed/scripts/seed.ts) or by the
//               bench before the run, so building the graph is not part of what is measured;
//   setup()     otherwise buildGraph() below creates USERS users through the API, POSTS posts each,
//               then FOLLOWS follows each (Zipf-skewed followees: a few popular accounts, a long
//               tail), so every timeline is filled by the follow merge without waiting for fan-out.
//
// Ids are decimal strings everywhere, as the API returns them.

import { check, sleep } from 'k6'
import { SharedArray } from 'k6/data'
import http from 'k6/http'
import { Trend } from 'k6/metrics'
import { envNumber, envString } from '../lib/env.js'
import { zipf } from '../lib/zipf.js'

/** `./faultline up feed`'s API port (packages/infra/src/topology.ts systemPorts.feed.api). */
export const defaultBaseUrl = 'http://127.0.0.1:18100'

/** Post created → visible in a follower's timeline, as a client sees it (polled), in ms. */
export const visibleMs = new Trend('feed_post_visible_ms', true)

const json = { 'content-type': 'application/json' }
const created = http.expectedStatuses(201)
const noContent = http.expectedStatuses(204)
// 206 is an answer (a cold timeline being rebuilt, with what there is so far), not a failure.
const timelineAnswered = http.expectedStatuses(200, 206)

/** A handle unique to this run, VU and iteration: `[a-z0-9_]`, at most 30 characters. */
export function uniqueHandle(tag) {
  const salt = Math.floor(Math.random() * 36 ** 4).toString(36)
  return `${tag}_${Date.now().toString(36)}${__VU.toString(36)}${salt}`.slice(0, 30)
}

/** POST /api/users → the new id, or undefined. */
export function createUser(base, handle, tags = {}) {
  const res = http.post(`${base}/api/users`, JSON.stringify({ handle }), {
    headers: json,
    responseType: 'text',
    responseCallback: created,
    tags: { op: 'user', name: 'POST /api/users', ...tags },
  })
  return { res, id: res.status === 201 ? jsonField(res, 'id') : undefined }
}

/** PUT (or, with `unfollow`, DELETE) /api/users/:id/follows/:target. */
export function follow(base, followerId, targetId, tags = {}, unfollow = false) {
  const url = `${base}/api/users/${followerId}/follows/${targetId}`
  const params = {
    responseCallback: noContent,
    tags: { op: unfollow ? 'unfollow' : 'follow', name: 'PUT /api/users/:id/follows/:target', ...tags },
  }
  if (unfollow) params.tags.name = 'DELETE /api/users/:id/follows/:target'
  return unfollow ? http.del(url, null, params) : http.put(url, null, params)
}

/** POST /api/users/:id/posts → `{ res, post }` (post: the 201's body, else undefined). */
export function createPost(base, authorId, text, tags = {}) {
  const res = http.post(`${base}/api/users/${authorId}/posts`, JSON.stringify({ text }), {
    headers: json,
    responseType: 'text',
    responseCallback: created,
    tags: { op: 'post', name: 'POST /api/users/:id/posts', ...tags },
  })
  let post
  if (res.status === 201) {
    try {
      post = res.json()
    } catch {
      // Left undefined: the caller's check reports a 201 without a body.
    }
  }
  return { res, post }
}

/** DELETE /api/posts/:id. */
export function deletePost(base, postId, tags = {}) {
  return http.del(`${base}/api/posts/${postId}`, null, {
    responseCallback: noContent,
    tags: { op: 'delete', name: 'DELETE /api/posts/:id', ...tags },
  })
}

/**
 * GET /api/users/:id/timeline → `{ res, page }`; page is `{ items, nextCursor }` when the body
 * parsed. `parse: false` skips the body (the knee's hot loop).
 */
export function readTimeline(base, userId, { limit = 20, cursor, tags = {}, parse = true } = {}) {
  const query = cursor === undefined ? `?limit=${limit}` : `?limit=${limit}&cursor=${cursor}`
  const res = http.get(`${base}/api/users/${userId}/timeline${query}`, {
    responseType: parse ? 'text' : 'none',
    responseCallback: timelineAnswered,
    tags: { op: 'timeline', name: 'GET /api/users/:id/timeline', ...tags },
  })
  let page
  if (parse && (res.status === 200 || res.status === 206)) {
    try {
      page = res.json()
    } catch {
      // Left undefined: counted by the caller's check.
    }
  }
  return { res, page }
}

/** Decimal id strings compared as numbers (ids reach 2^53: never parse them into floats). */
export function compareIds(a, b) {
  if (a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}

/** Ids strictly descending (newest first, no duplicate) within a page and across two pages. */
export function strictlyDescending(ids) {
  for (let i = 1; i < ids.length; i++) if (compareIds(ids[i - 1], ids[i]) <= 0) return false
  return true
}

/**
 * One timeline read as a client pages it: the first page, then — with probability `nextShare` and
 * when there is a next page — the page after `nextCursor`. Checks the contract on the way: 200 or
 * 206, items newest first, the second page strictly older than the first (no duplicate, no skip
 * backwards). Tags `page=1|2` besides `tags`.
 */
export function readAndPage(base, userId, nextShare, limit = 20, tags = {}) {
  const first = readTimeline(base, userId, { limit, tags: { ...tags, page: '1' } })
  const items = first.page?.items ?? []
  check(first.res, {
    'timeline: 200 or 206': (r) => r.status === 200 || r.status === 206,
    'timeline: newest first': () => first.page !== undefined && strictlyDescending(items.map((p) => p.id)),
  })
  const cursor = first.page?.nextCursor
  if (cursor === null || cursor === undefined || Math.random() >= nextShare) return
  const second = readTimeline(base, userId, { limit, cursor, tags: { ...tags, page: '2' } })
  const ids = [...items, ...(second.page?.items ?? [])].map((p) => p.id)
  check(second.res, {
    'timeline page 2: older than page 1, no duplicate': () =>
      second.page !== undefined && strictlyDescending(ids),
  })
}

/**
 * Polls `readerId`'s first page until `postId` is on it (every `pollMs`, at most `timeoutMs`);
 * records post → visible in feed_post_visible_ms (from the post's createdAt) with `tags`. Returns
 * the ms it took, or undefined when it never showed up.
 */
export function waitVisible(base, readerId, post, tags = {}, { pollMs = 50, timeoutMs = 30_000 } = {}) {
  const createdMs = Date.parse(post.createdAt)
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const { page } = readTimeline(base, readerId, { limit: 20, tags: { ...tags, probe: 'visible' } })
    if (page?.items?.some((p) => p.id === post.id)) {
      const ms = Date.now() - createdMs
      visibleMs.add(ms, tags)
      return ms
    }
    sleep(pollMs / 1000)
  }
  return undefined
}

function jsonField(res, field) {
  try {
    const value = res.json(field)
    return value === undefined || value === null ? undefined : String(value)
  } catch {
    return undefined
  }
}

/**
 * Users from USERS_FILE (shared read-only between VUs), or [] when unset. Init context only (k6's
 * open() works only there). Accepts a JSON array of ids or `{ users: [...] }`.
 */
export function usersFromFile() {
  const path = envString('USERS_FILE', '')
  if (path === '') return []
  return new SharedArray('users', () => {
    const parsed = JSON.parse(open(path))
    const users = Array.isArray(parsed) ? parsed : parsed.users
    if (!Array.isArray(users) || users.length === 0)
      throw new Error(`${path}: expected a non-empty JSON array of user ids (or { "users": [...] })`)
    return users.map(String)
  })
}

/** Runs `requests` (http.batch form) `width` at a time; returns every response. */
function batched(requests, width = 50) {
  const out = []
  for (let i = 0; i < requests.length; i += width) out.push(...http.batch(requests.slice(i, i + width)))
  return out
}

/**
 * setup(): a small graph through the API, bounded (USERS ≤ 5 000): USERS users (default 200),
 * POSTS posts each (default 3), then FOLLOWS follows each (default 20, Zipf-skewed followees:
 * rank 1 is followed by nearly everyone). Posts come before follows, so every timeline is filled by
 * the follow merge, synchronously, and the run does not start with a fan-out backlog. Fails the run
 * if fewer than 99 % of the users were created. Returns `{ users }` (ids; users[0] is the most
 * followed).
 */
export function buildGraph(base, tag = 'lt') {
  const count = envNumber('USERS', 200)
  if (!(count >= 2 && count <= 5000))
    throw new Error(`USERS=${count}: between 2 and 5000 (a seed makes more)`)
  const postsEach = envNumber('POSTS', 3)
  const followsEach = Math.min(envNumber('FOLLOWS', 20), count - 1)
  const userRequests = Array.from({ length: count }, (_, i) => ({
    method: 'POST',
    url: `${base}/api/users`,
    body: JSON.stringify({ handle: uniqueHandle(`${tag}${i}`) }),
    // A body to read even when the script discards bodies (the knee scripts do, for speed).
    params: {
      headers: json,
      responseType: 'text',
      responseCallback: created,
      tags: { op: 'user', phase: 'setup' },
    },
  }))
  const users = batched(userRequests)
    .map((res) => (res.status === 201 ? jsonField(res, 'id') : undefined))
    .filter((id) => id !== undefined)
  if (users.length < count * 0.99) {
    throw new Error(`setup created only ${users.length} of ${count} users at ${base}/api/users`)
  }
  const posts = []
  for (const id of users) {
    for (let p = 0; p < postsEach; p++) {
      posts.push({
        method: 'POST',
        url: `${base}/api/users/${id}/posts`,
        body: JSON.stringify({ text: `seed post ${p} of ${id}` }),
        params: { headers: json, responseCallback: created, tags: { op: 'post', phase: 'setup' } },
      })
    }
  }
  batched(posts)
  const followees = zipf({ n: users.length, s: envNumber('FOLLOW_ZIPF_S', 1.0), seed: 7 })
  const follows = []
  for (const follower of users) {
    const chosen = new Set()
    for (let tries = 0; chosen.size < followsEach && tries < followsEach * 20; tries++) {
      const target = users[followees.nextIndex()]
      if (target !== follower) chosen.add(target)
    }
    for (const target of chosen) {
      follows.push({
        method: 'PUT',
        url: `${base}/api/users/${follower}/follows/${target}`,
        params: { responseCallback: noContent, tags: { op: 'follow', phase: 'setup' } },
      })
    }
  }
  const followed = batched(follows).filter((res) => res.status === 204).length
  if (followed < follows.length * 0.99) {
    throw new Error(`setup made only ${followed} of ${follows.length} follows`)
  }
  return { users }
}

/** setup() for the open-model scripts: the file's users, else a graph built through the API. */
export function usersOrGraph(base, fileUsers, tag) {
  return fileUsers.length > 0 ? { users: [] } : buildGraph(base, tag)
}

/** A Zipf-skewed picker over the run's users (one sampler per VU, seeded with SEED + VU id). */
export function userPicker(fileUsers) {
  let sampler
  return (data) => {
    const users = fileUsers.length > 0 ? fileUsers : data.users
    sampler ??= zipf({ n: users.length, s: envNumber('ZIPF_S', 1.0) })
    return users[sampler.nextIndex()]
  }
}

/**
 * setup() helper: an author with `followers` fresh followers (created through the API, so their
 * timelines exist: they are active), for measuring post → visible. Returns `{ author, readers }`.
 */
export function probeAuthor(base, followers, tag = 'probe') {
  const author = createUser(base, uniqueHandle(`${tag}a`), { phase: 'setup' }).id
  if (author === undefined) throw new Error(`setup could not create the ${tag} author`)
  const readers = []
  for (let i = 0; i < followers; i++) {
    const id = createUser(base, uniqueHandle(`${tag}r${i}`), { phase: 'setup' }).id
    if (id === undefined) continue
    if (follow(base, id, author, { phase: 'setup' }).status === 204) readers.push(id)
  }
  if (readers.length === 0) throw new Error(`setup could not give the ${tag} author a follower`)
  return { author, readers }
}

/** The knobs every feed summary records besides the library's list. */
export const feedKnobs = [
  'USERS',
  'USERS_FILE',
  'POSTS',
  'FOLLOWS',
  'READ_RATE',
  'POST_RATE',
  'NEXT_PAGE_SHARE',
  'CELEB_FOLLOWERS',
  'PAGE_LIMIT',
]

/**
 * The library's handleSummary plus a `feed` section: post → visible percentiles (by tag, when the
 * script tags them) and the knobs, so the JSON answers "how fast did posts show up" directly.
 */
export function summaryWithVisibility(summaryHandler, name, tagged = []) {
  const base = summaryHandler(name)
  return (data) => {
    const out = base(data)
    const trend = (metric) => {
      const v = data.metrics[metric]?.values
      return v ? { count: v.count, p50: v.med, p99: v['p(99)'], max: v.max } : null
    }
    const section = {
      visibleMs: trend('feed_post_visible_ms'),
      ...Object.fromEntries(tagged.map((t) => [t, trend(`feed_post_visible_ms{${t}}`)])),
      knobs: Object.fromEntries(feedKnobs.filter((k) => __ENV[k] !== undefined).map((k) => [k, __ENV[k]])),
    }
    const jsonKey = envString('SUMMARY_PATH', '') || 'stdout'
    const parsed = JSON.parse(out[jsonKey])
    parsed.feed = section
    out[jsonKey] = `${JSON.stringify(parsed, null, 2)}\n`
    const textKey = jsonKey === 'stdout' ? 'stderr' : 'stdout'
    out[textKey] += `  FEED  ${JSON.stringify(section)}\n\n`
    return out
  }
}
