// Feed post burst: steady timeline reads while posts jump from a trickle to a burst and back — a
// breaking-news moment. What it shows is whether the write path (outbox → relay → Kafka → fan-out
// workers) absorbs the burst and how fast it drains: post → visible (a probe author's post, polled
// by a follower) per phase, and whether reads stay fast while the workers push.
//
//   posts   ramping arrival rate: BASE_RATE (default 2/s) for BASE_DURATION (15s), SPIKE_RATE
//           (100/s) for SPIKE_DURATION (10s), BASE_RATE again for RECOVERY_DURATION (30s);
//           Zipf-skewed authors (popular accounts have the most followers: the largest fan-outs);
//   reads   READ_RATE/s (default 100) timeline reads for the same total time, cursor paging as in
//           mixed.js;
//   probe   PROBE_RATE/s (default 2): post → visible, tagged phase=base|spike|recovery.
//
//   ./faultline up feed
//   k6 run loadtests/feed/post-burst.js
//   k6 run -e SPIKE_RATE=300 -e USERS_FILE=/abs/users.json -e SUMMARY_PATH=results/feed/burst.json loadtests/feed/post-burst.js
//
// Users: USERS_FILE or setup() (common.js buildGraph: USERS, POSTS, FOLLOWS). The summary's `feed`
// section has post → visible p50/p99/max per phase; the gate is only that the service keeps
// answering (errors < MAX_ERROR_RATE, 0.05): a burst is allowed to delay delivery.

import { check } from 'k6'
import exec from 'k6/execution'
import { durationSeconds, envNumber } from '../lib/env.js'
import * as ledger from '../lib/ledger.js'
import { baseUrl, constantArrivalRate, spike } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { checkThresholds, httpThresholds, mergeThresholds } from '../lib/thresholds.js'
import {
  createPost,
  defaultBaseUrl,
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

const postScenario = spike({
  baseRate: 2,
  spikeRate: 100,
  baseDuration: '15s',
  spikeDuration: '10s',
  recoveryDuration: '30s',
  preAllocatedVUs: 20,
  maxVUs: 400,
  exec: 'posts',
})

// Phase boundaries in seconds since the start, from the stages spike() built:
// [base, ramp up, spike, ramp down, recovery].
const stageSeconds = postScenario.stages.map((s) => durationSeconds(s.duration))
const spikeStartS = stageSeconds[0]
const recoveryStartS = stageSeconds.slice(0, 4).reduce((a, b) => a + b, 0)
const totalS = stageSeconds.reduce((a, b) => a + b, 0)
const phases = ['base', 'spike', 'recovery']

function phase() {
  const s = (Date.now() - exec.scenario.startTime) / 1000
  if (s < spikeStartS) return 'base'
  return s < recoveryStartS ? 'spike' : 'recovery'
}

const phaseThresholds = {}
for (const name of phases) {
  phaseThresholds[`feed_post_visible_ms{phase:${name}}`] = ['max>=0']
  phaseThresholds[`http_req_duration{op:timeline,phase:${name}}`] = ['p(99)>=0']
}

export const options = {
  scenarios: {
    posts: postScenario,
    reads: constantArrivalRate({ envPrefix: 'READ_', rate: 100, duration: `${totalS}s`, exec: 'reads' }),
    probe: constantArrivalRate({
      envPrefix: 'PROBE_',
      rate: 2,
      duration: `${totalS}s`,
      preAllocatedVUs: 8,
      maxVUs: 200,
      exec: 'probe',
    }),
  },
  thresholds: mergeThresholds(
    httpThresholds({ p99Ms: envNumber('P99_MS', 2000), maxErrorRate: envNumber('MAX_ERROR_RATE', 0.05) }),
    checkThresholds({ minRate: envNumber('MIN_CHECK_RATE', 0.95) }),
    phaseThresholds,
  ),
  setupTimeout: '300s',
  summaryTrendStats,
}

export function setup() {
  return {
    ...usersOrGraph(base, fileUsers, 'burst'),
    probe: probeAuthor(base, envNumber('PROBE_FOLLOWERS', 3)),
  }
}

export function posts(data) {
  const author = pickUser(data)
  const { res, post } = createPost(base, author, `burst ${__VU}-${__ITER}`, { phase: phase() })
  check(res, { 'post: 201': (r) => r.status === 201 })
  ledger.fromResponse('post', post?.id ?? `${author}-${__VU}-${__ITER}`, res)
}

export function reads(data) {
  readAndPage(base, pickUser(data), 0.2, 20, { phase: phase() })
}

export function probe(data) {
  const { author, readers } = data.probe
  const tags = { phase: phase() }
  const { post } = createPost(base, author, `probe ${__ITER}`, { ...tags, probe: 'post' })
  if (post === undefined) return
  const seen = waitVisible(base, readers[__ITER % readers.length], post, tags)
  check(seen, { 'probe post visible to a follower': (v) => v !== undefined })
}

export const handleSummary = summaryWithVisibility(
  summaryHandler,
  'feed-post-burst',
  phases.map((p) => `phase:${p}`),
)
