// Photos backfill beside uploads: the real admin "reprocess all" (`POST /admin/reprocess
// {all:true}`, every photo's job on the backfill lane) started while new uploads keep arriving.
// Do new uploads stay on time — ack → ready of the new uploads before the backfill and while it
// runs (photos_ready_ms{phase:baseline|backfill}, per size; observe-only, the lane's SLO is
// NEW_LANE_SLO_MS, 5 s) — and does every one still become ready (Immich #12578: new uploads stuck
// behind a "regenerate all")?
//
// setup() first uploads SEED_PHOTOS photos (800×600, each from an owner of its own) and waits
// until they are processed, so the backfill has work and the baseline starts quiet. The reprocess
// takes EVERY photo of the system it is pointed at, not only this run's: run it against a system
// of its own (`./faultline up photos` on a fresh schema, or the bench's isolated system).
//
//   node services/photos/scripts/make-corpus.ts results/photos/loadtest-fixtures   # once
//   ./faultline up photos
//   k6 run loadtests/photos/backfill.js
//   k6 run -e SEED_PHOTOS=1000 -e BACKFILL_DURATION=120s -e ADMIN_TOKEN=… loadtests/photos/backfill.js
//
// Env: SEED_PHOTOS (300), RATE (1 upload/s), BASELINE_DURATION (20s), BACKFILL_DURATION (60s),
// ADMIN_TOKEN (the server's, if it has one), FIXTURES_DIR (see common.js), READY_TIMEOUT_MS.

import { check, sleep } from 'k6'
import exec from 'k6/execution'
import http from 'k6/http'
import { Counter } from 'k6/metrics'
import { durationSeconds, envNumber, envString } from '../lib/env.js'
import { baseUrl, constantArrivalRate, smoke } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { mergeThresholds } from '../lib/thresholds.js'
import {
  correctnessThresholds,
  countServerError,
  defaultBaseUrl,
  freshOwner,
  getPhoto,
  pick,
  readyGrace,
  runTag,
  sizeMix,
  upload,
  waitReady,
} from './common.js'

const base = baseUrl(defaultBaseUrl)
const mix = sizeMix()
const seedImage = mix.find((m) => m.images[0].size === 'medium').images[0]
const baselineSeconds = durationSeconds(envString('BASELINE_DURATION', '20s'))
const backfillSeconds = durationSeconds(envString('BACKFILL_DURATION', '60s'))
const seedPhotos = envNumber('SEED_PHOTOS', 300)
/** Photos the reprocess put on the backfill lane (its 202's `enqueued`). */
const backfillEnqueued = new Counter('photos_backfill_enqueued')

export const options = {
  scenarios: {
    uploads: constantArrivalRate({
      rate: 1,
      duration: `${baselineSeconds + backfillSeconds}s`,
      preAllocatedVUs: 10,
      maxVUs: 150,
      gracefulStop: readyGrace,
      exec: 'uploads',
    }),
    reprocess: smoke({
      iterations: 1,
      maxDuration: '60s',
      startTime: `${baselineSeconds}s`,
      exec: 'reprocess',
    }),
  },
  thresholds: mergeThresholds(correctnessThresholds(envNumber('MIN_CHECK_RATE', 1)), {
    'photos_ready_ms{phase:baseline}': ['p(99)>=0'],
    'photos_ready_ms{phase:backfill}': ['p(99)>=0'],
    'photos_ready_ms{phase:backfill,size:large}': ['p(99)>=0'],
    'photos_ready_ms{phase:backfill,size:medium}': ['p(99)>=0'],
    photos_backfill_enqueued: ['count>=0'],
    photos_not_ready: ['count>=0'],
  }),
  setupTimeout: '300s',
  summaryTrendStats,
}

/** Uploads SEED_PHOTOS photos, 10 at a time, then waits until each has left `processing`. */
export function setup() {
  if (!(seedPhotos >= 1 && seedPhotos <= 5000))
    throw new Error(`SEED_PHOTOS=${seedPhotos}: between 1 and 5000`)
  const tag = runTag('backfill')
  const seeded = []
  for (let i = 0; i < seedPhotos; i += 10) {
    const batch = []
    for (let j = i; j < Math.min(seedPhotos, i + 10); j++) {
      batch.push({
        method: 'POST',
        url: `${base}/api/photos`,
        body: { file: http.file(seedImage.bytes, 'seed.jpg', 'image/jpeg') },
        params: { headers: { 'x-user-id': `${tag}-seed-${j}` }, tags: { op: 'upload', phase: 'setup' } },
      })
    }
    http.batch(batch).forEach((res, k) => {
      countServerError(res, 'upload')
      if (res.status === 201) seeded.push({ owner: `${tag}-seed-${i + k}`, id: res.json('id') })
    })
  }
  if (seeded.length < seedPhotos * 0.99)
    throw new Error(`setup stored only ${seeded.length} of ${seedPhotos} photos`)
  const deadline = Date.now() + 240_000
  for (const p of seeded) {
    while (
      Date.now() < deadline &&
      getPhoto(base, p.owner, p.id, { phase: 'setup' }).body?.status === 'processing'
    )
      sleep(0.5)
  }
  return { tag }
}

function phase() {
  return (Date.now() - exec.scenario.startTime) / 1000 < baselineSeconds ? 'baseline' : 'backfill'
}

export function uploads(data) {
  const image = pick(mix)
  const tags = { size: image.size, phase: phase() }
  const owner = freshOwner(data.tag)
  const { res, id } = upload(base, owner, image, tags)
  check(res, { 'upload: 201 with an id': (r) => r.status === 201 && id !== undefined })
  if (id === undefined) return
  check(waitReady(base, owner, id, Date.now(), tags), { 'new upload: ready': (p) => p?.status === 'ready' })
}

/** "Reprocess all", as an operator runs it: 202 once every photo is on the backfill lane. */
export function reprocess() {
  const token = envString('ADMIN_TOKEN', '')
  const res = http.post(`${base}/admin/reprocess`, JSON.stringify({ all: true }), {
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    responseType: 'text',
    responseCallback: http.expectedStatuses(202),
    timeout: '60s',
    tags: { op: 'reprocess', name: 'POST /admin/reprocess' },
  })
  countServerError(res, 'reprocess')
  let enqueued = 0
  try {
    enqueued = Number(res.json('enqueued'))
  } catch {
    // Left 0: the check below fails.
  }
  backfillEnqueued.add(enqueued)
  check(res, {
    'reprocess all: 202, every seeded photo enqueued': (r) => r.status === 202 && enqueued >= seedPhotos,
  })
}

export const handleSummary = summaryHandler('photos-backfill')
