// Photos burst: the size mix at BASE_RATE, a jump to SPIKE_RATE for SPIKE_DURATION (a phone
// syncing an album, a shared folder imported), then back to BASE_RATE while the worker works
// through the backlog. Does the API keep acknowledging (201, never a 5xx) while the processing
// falls behind, and how does a probe's ack → ready (a small JPEG, one a second, on the same new
// lane) grow and recover (photos_ready_ms{phase:base|spike|recovery}, observe-only)? The
// thresholds are correctness only; the burst's own uploads are checked for 201, not waited on.
//
//   node services/photos/scripts/make-corpus.ts results/photos/loadtest-fixtures   # once
//   ./faultline up photos
//   k6 run loadtests/photos/burst.js
//   k6 run -e SPIKE_RATE=20 -e SPIKE_DURATION=15s loadtests/photos/burst.js
//
// Env: BASE_RATE (1/s), SPIKE_RATE (10/s), BASE_DURATION (10s), SPIKE_DURATION (10s),
// RECOVERY_DURATION (60s), PROBE_RATE (1/s), FIXTURES_DIR (see common.js).

import { check } from 'k6'
import exec from 'k6/execution'
import { durationSeconds, envString } from '../lib/env.js'
import { baseUrl, constantArrivalRate, spike } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { mergeThresholds } from '../lib/thresholds.js'
import {
  correctnessThresholds,
  defaultBaseUrl,
  freshOwner,
  pick,
  readyGrace,
  runTag,
  sizeMix,
  smallJpeg,
  upload,
  waitReady,
} from './common.js'

const base = baseUrl(defaultBaseUrl)
const mix = sizeMix()
const probeImage = smallJpeg()
const baseSeconds = durationSeconds(envString('BASE_DURATION', '10s'))
const spikeSeconds = durationSeconds(envString('SPIKE_DURATION', '10s'))
const totalSeconds = baseSeconds + spikeSeconds + durationSeconds(envString('RECOVERY_DURATION', '60s')) + 2

export const options = {
  scenarios: {
    burst: spike({
      baseRate: 1,
      spikeRate: 10,
      baseDuration: '10s',
      spikeDuration: '10s',
      recoveryDuration: '60s',
      preAllocatedVUs: 10,
      maxVUs: 200,
      exec: 'burst',
    }),
    probe: constantArrivalRate({
      envPrefix: 'PROBE_',
      rate: 1,
      duration: `${totalSeconds}s`,
      preAllocatedVUs: 4,
      maxVUs: 150,
      gracefulStop: readyGrace,
      exec: 'probe',
    }),
  },
  thresholds: mergeThresholds(correctnessThresholds(), {
    'photos_ready_ms{phase:base}': ['p(99)>=0'],
    'photos_ready_ms{phase:spike}': ['p(99)>=0'],
    'photos_ready_ms{phase:recovery}': ['p(99)>=0'],
    'http_req_duration{op:upload}': ['p(99)>=0'],
    photos_not_ready: ['count>=0'],
  }),
  setupTimeout: '60s',
  summaryTrendStats,
}

export function setup() {
  return { tag: runTag('burst') }
}

/** The burst's phase now: both scenarios start together, so the probe's start is the burst's. */
function phase() {
  const s = (Date.now() - exec.scenario.startTime) / 1000
  if (s < baseSeconds) return 'base'
  if (s < baseSeconds + spikeSeconds + 1) return 'spike'
  return 'recovery'
}

export function burst(data) {
  const image = pick(mix)
  const { res, id } = upload(base, freshOwner(data.tag), image, { size: image.size, phase: phase() })
  check(res, { 'burst upload: 201 with an id': (r) => r.status === 201 && id !== undefined })
}

export function probe(data) {
  const tags = { phase: phase() }
  const owner = freshOwner(data.tag)
  const { res, id } = upload(base, owner, probeImage, { probe: 'upload', ...tags })
  check(res, { 'probe upload: 201': (r) => r.status === 201 && id !== undefined })
  if (id === undefined) return
  check(waitReady(base, owner, id, Date.now(), tags), { 'probe: ready': (p) => p?.status === 'ready' })
}

export const handleSummary = summaryHandler('photos-burst')
