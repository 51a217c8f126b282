// Feed celebrity post (the load shape of pm18): one author with many followers posts while the
// followers read their timelines and a regular author keeps posting. With hybridFanout on and the
// author at or over FANOUT_CELEBRITY_THRESHOLD followers, the post is not pushed: followers see it
// by the read-time merge of the author's recent set, at once. Off (or under the threshold), the
// worker pushes it to every active follower, and a regular author's posts queue behind that push.
//
//   reads      READ_RATE/s (default 100) timeline reads by Zipf-skewed followers of the celebrity
//              (every read merges the celebrity's recent posts when hybrid is on);
//   celebrity  at CELEB_AT (default 10s) the celebrity posts CELEB_POSTS times (1), then SAMPLE
//              followers (20) poll their timelines together until each sees the post:
//              feed_celebrity_visible_ms (post created → seen, per follower);
//   probe      PROBE_RATE/s (default 2): a regular author (PROBE_FOLLOWERS followers) posts and a
//              follower polls until it shows: feed_post_visible_ms tagged phase=before|after the
//              celebrity's post — pm18's "everyone else's posts are delayed".
//
//   ./faultline up feed
//   k6 run loadtests/feed/celebrity.js                        # a 1 000-follower author
//   k6 run -e CELEB_FOLLOWERS=5000 -e SUMMARY_PATH=results/feed/celebrity.json loadtests/feed/celebrity.js
//
// The followers are created in setup() through the API (CELEB_FOLLOWERS, at most 20 000: about two
// requests each). Whether the author counts as a celebrity is the system's FANOUT_CELEBRITY_THRESHOLD
// (default 10 000): start the system with a threshold at or under CELEB_FOLLOWERS to see the hybrid
// path, and flip `hybridFanout` (PUT /admin/mitigations) to compare with the push.

import { check, sleep } from 'k6'
import exec from 'k6/execution'
import http from 'k6/http'
import { Trend } from 'k6/metrics'
import { durationSeconds, envNumber, envString } from '../lib/env.js'
import { baseUrl, constantArrivalRate } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { checkThresholds, httpThresholds, mergeThresholds } from '../lib/thresholds.js'
import { zipf } from '../lib/zipf.js'
import {
  createPost,
  createUser,
  defaultBaseUrl,
  probeAuthor,
  readAndPage,
  summaryWithVisibility,
  uniqueHandle,
  waitVisible,
} from './common.js'

const base = baseUrl(defaultBaseUrl)
const celebVisibleMs = new Trend('feed_celebrity_visible_ms', true)

const followerCount = envNumber('CELEB_FOLLOWERS', 1000)
if (!(followerCount >= 1 && followerCount <= 20_000)) {
  throw new Error(`CELEB_FOLLOWERS=${followerCount}: between 1 and 20000 (a seed makes bigger graphs)`)
}
const celebAt = envString('CELEB_AT', '10s')
const duration = envString('DURATION', '40s')
if (durationSeconds(celebAt) >= durationSeconds(duration)) throw new Error('CELEB_AT must be inside DURATION')
const sampleSize = Math.min(envNumber('SAMPLE', 20), followerCount)
const visibleTimeoutMs = envNumber('VISIBLE_TIMEOUT_MS', 60_000)

export const options = {
  scenarios: {
    reads: constantArrivalRate({ envPrefix: 'READ_', rate: 100, duration, exec: 'reads' }),
    celebrity: {
      executor: 'shared-iterations',
      vus: 1,
      iterations: 1,
      startTime: celebAt,
      maxDuration: `${Math.ceil(visibleTimeoutMs / 1000) + 30}s`,
      exec: 'celebrity',
    },
    probe: constantArrivalRate({
      envPrefix: 'PROBE_',
      rate: 2,
      duration,
      preAllocatedVUs: 8,
      maxVUs: 200,
      exec: 'probe',
    }),
  },
  thresholds: mergeThresholds(
    httpThresholds({ p99Ms: envNumber('P99_MS', 2000), maxErrorRate: envNumber('MAX_ERROR_RATE', 0.05) }),
    checkThresholds({ minRate: envNumber('MIN_CHECK_RATE', 0.95) }),
    {
      feed_celebrity_visible_ms: ['max>=0'],
      'feed_post_visible_ms{phase:before}': ['max>=0'],
      'feed_post_visible_ms{phase:after}': ['max>=0'],
    },
  ),
  setupTimeout: '600s',
  summaryTrendStats,
}

/** `count` followers for `author`, created and following in batches of 50. */
function followersOf(author, count) {
  const ids = []
  for (let start = 0; start < count; start += 50) {
    const creates = []
    for (let i = start; i < Math.min(count, start + 50); i++) {
      creates.push({
        method: 'POST',
        url: `${base}/api/users`,
        body: JSON.stringify({ handle: uniqueHandle(`cf${i}`) }),
        params: {
          headers: { 'content-type': 'application/json' },
          responseType: 'text',
          tags: { op: 'user', phase: 'setup' },
        },
      })
    }
    const batch = http
      .batch(creates)
      .filter((r) => r.status === 201)
      .map((r) => String(r.json('id')))
    const follows = batch.map((id) => ({
      method: 'PUT',
      url: `${base}/api/users/${id}/follows/${author}`,
      params: { tags: { op: 'follow', phase: 'setup' } },
    }))
    http.batch(follows).forEach((r, i) => {
      if (r.status === 204) ids.push(batch[i])
    })
  }
  if (ids.length < count * 0.99) throw new Error(`setup: only ${ids.length} of ${count} followers`)
  return ids
}

export function setup() {
  const celeb = createUser(base, uniqueHandle('celeb')).id
  if (celeb === undefined) throw new Error('setup could not create the celebrity')
  return {
    celeb,
    followers: followersOf(celeb, followerCount),
    probe: probeAuthor(base, envNumber('PROBE_FOLLOWERS', 3)),
  }
}

let sampler

export function reads(data) {
  sampler ??= zipf({ n: data.followers.length, s: envNumber('ZIPF_S', 1.0) })
  readAndPage(base, data.followers[sampler.nextIndex()], 0.2)
}

/** The celebrity posts; SAMPLE followers poll together (one batch per round) until each sees it. */
export function celebrity(data) {
  const posts = []
  for (let i = 0; i < envNumber('CELEB_POSTS', 1); i++) {
    const { post } = createPost(base, data.celeb, `celebrity post ${i}`, { probe: 'celebrity' })
    if (post !== undefined) posts.push(post)
  }
  check(posts, { 'celebrity posted': (p) => p.length > 0 })
  const post = posts.at(-1)
  if (post === undefined) return
  const createdMs = Date.parse(post.createdAt)
  const step = Math.max(1, Math.floor(data.followers.length / sampleSize))
  let waiting = Array.from({ length: sampleSize }, (_, i) => data.followers[i * step])
  const deadline = Date.now() + visibleTimeoutMs
  while (waiting.length > 0 && Date.now() < deadline) {
    const responses = http.batch(
      waiting.map((id) => ({
        method: 'GET',
        url: `${base}/api/users/${id}/timeline?limit=20`,
        params: { tags: { op: 'timeline', probe: 'celebrity' } },
      })),
    )
    const seenAt = Date.now()
    waiting = waiting.filter((_, i) => {
      const items = responses[i].status === 200 ? (responses[i].json('items') ?? []) : []
      const seen = items.some((p) => p.id === post.id)
      if (seen) celebVisibleMs.add(seenAt - createdMs)
      return !seen
    })
    if (waiting.length > 0) sleep(0.1)
  }
  check(waiting, { 'every sampled follower saw the celebrity post': (w) => w.length === 0 })
}

export function probe(data) {
  const { author, readers } = data.probe
  const tags = {
    phase: Date.now() - exec.scenario.startTime < durationSeconds(celebAt) * 1000 ? 'before' : 'after',
  }
  const { post } = createPost(base, author, `regular ${__ITER}`, { ...tags, probe: 'post' })
  if (post === undefined) return
  const seen = waitVisible(base, readers[__ITER % readers.length], post, tags)
  check(seen, { 'regular post visible to a follower': (v) => v !== undefined })
}

function withCelebrity(name) {
  const inner = summaryWithVisibility(summaryHandler, name, ['phase:before', 'phase:after'])
  return (data) => {
    const v = data.metrics.feed_celebrity_visible_ms?.values
    const out = inner(data)
    const key = envString('SUMMARY_PATH', '') || 'stdout'
    const parsed = JSON.parse(out[key])
    parsed.feed.celebrity = {
      followers: followerCount,
      sampled: sampleSize,
      visibleMs: v ? { count: v.count, p50: v.med, p99: v['p(99)'], max: v.max } : null,
    }
    out[key] = `${JSON.stringify(parsed, null, 2)}\n`
    return out
  }
}

export const handleSummary = withCelebrity('feed-celebrity')
