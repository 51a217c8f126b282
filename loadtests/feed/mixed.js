// Feed read-heavy mix: the shape of a social feed — timeline reads far outnumber posts — over many
// users, with cursor paging. Four open-model scenarios (the arrival rate does not drop when the
// service slows down):
//
//   reads   READ_RATE/s (default 200) GET /api/users/:id/timeline?limit=PAGE_LIMIT for Zipf-skewed
//           users (ZIPF_S, default 1.0: a few very active readers, a long tail); NEXT_PAGE_SHARE
//           (0.2) of them also fetch the next page with the cursor, checked newest first with no
//           duplicate across the two pages;
//   posts   POST_RATE/s (default READ_RATE / 20) POST /api/users/:id/posts by Zipf-skewed authors
//           (each fans out to the author's active followers);
//   follows FOLLOW_RATE/s (default 1) PUT follows between random users (merges the target's posts);
//   probe   PROBE_RATE/s (default 1): an author with PROBE_FOLLOWERS followers (default 3) posts and
//           one follower polls its timeline until the post shows: post → visible in
//           feed_post_visible_ms, the fan-out's delay as a client sees it.
//
//   ./faultline up feed
//   k6 run loadtests/feed/mixed.js
//   k6 run -e READ_RATE=1000 -e DURATION=60s -e USERS_FILE=/abs/users.json \
//     -e SUMMARY_PATH=results/feed/mixed.json loadtests/feed/mixed.js
//
// Users: USERS_FILE (ids from a seed), else setup() builds USERS users (default 200) with POSTS
// posts and FOLLOWS follows each through the API (common.js buildGraph). Thresholds: reads p99 <
// READ_P99_MS (50), posts p99 < POST_P99_MS (200), post → visible p99 < VISIBLE_P99_MS (2000, the
// issue's post → delivered target for authors under 10k followers).

import { check } from 'k6'
import { envNumber, envString } from '../lib/env.js'
import * as ledger from '../lib/ledger.js'
import { baseUrl, constantArrivalRate } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { checkThresholds, httpThresholds, mergeThresholds, scenarioThresholds } from '../lib/thresholds.js'
import {
  createPost,
  defaultBaseUrl,
  follow,
  probeAuthor,
  readAndPage,
  summaryWithVisibility,
  userPicker,
  usersFromFile,
  usersOrGraph,
  waitVisible,
} from './common.js'

const base = baseUrl(defaultBaseUrl)
const fileUsers = usersFromFile()
const pickUser = userPicker(fileUsers)

const readRate = envNumber('READ_RATE', 200)
const duration = envString('DURATION', '30s')
const nextShare = envNumber('NEXT_PAGE_SHARE', 0.2)
const pageLimit = envNumber('PAGE_LIMIT', 20)

export const options = {
  scenarios: {
    reads: constantArrivalRate({ envPrefix: 'READ_', rate: readRate, duration, exec: 'reads' }),
    posts: constantArrivalRate({
      envPrefix: 'POST_',
      rate: Math.max(1, Math.round(readRate / 20)),
      duration,
      exec: 'posts',
    }),
    follows: constantArrivalRate({ envPrefix: 'FOLLOW_', rate: 1, duration, exec: 'follows' }),
    probe: constantArrivalRate({
      envPrefix: 'PROBE_',
      rate: 1,
      duration,
      preAllocatedVUs: 4,
      maxVUs: 40,
      exec: 'probe',
    }),
  },
  thresholds: mergeThresholds(
    httpThresholds({ p99Ms: envNumber('P99_MS', 200) }),
    scenarioThresholds('reads', { p99Ms: envNumber('READ_P99_MS', 50) }),
    scenarioThresholds('posts', { p99Ms: envNumber('POST_P99_MS', 200) }),
    { feed_post_visible_ms: [`p(99)<${envNumber('VISIBLE_P99_MS', 2000)}`] },
    checkThresholds(),
  ),
  setupTimeout: '300s',
  summaryTrendStats,
}

export function setup() {
  return {
    ...usersOrGraph(base, fileUsers, 'mix'),
    probe: probeAuthor(base, envNumber('PROBE_FOLLOWERS', 3)),
  }
}

export function reads(data) {
  readAndPage(base, pickUser(data), nextShare, pageLimit)
}

export function posts(data) {
  const author = pickUser(data)
  const { res, post } = createPost(base, author, `mixed ${__VU}-${__ITER}`)
  check(res, { 'post: 201': (r) => r.status === 201 })
  ledger.fromResponse('post', post?.id ?? `${author}-${__VU}-${__ITER}`, res)
}

export function follows(data) {
  const follower = pickUser(data)
  const target = pickUser(data)
  if (follower === target) return
  check(follow(base, follower, target), { 'follow: 204': (r) => r.status === 204 })
}

export function probe(data) {
  const { author, readers } = data.probe
  const { post } = createPost(base, author, `probe ${__ITER}`, { probe: 'post' })
  if (post === undefined) return
  const reader = readers[__ITER % readers.length]
  check(waitVisible(base, reader, post, { kind: 'probe' }), {
    'probe post visible to a follower': (v) => v !== undefined,
  })
}

export const handleSummary = summaryWithVisibility(summaryHandler, 'feed-mixed')
