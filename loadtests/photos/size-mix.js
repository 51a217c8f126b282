// Photos size mix: uploads the way a photo library receives them — mostly 12 MP phone photos
// (≈ 2.9 MB), resized photos (800×600, ≈ 220 KB), small images, and the other formats (PNG with
// alpha, 16-bit PNG, animated GIF, CMYK JPEG, AVIF, TIFF) — at a steady RATE, each from an owner
// of its own, each followed until it is `ready`. Does every upload answer 201 (never a 5xx), does
// every ordinary image become ready, and how long does ack → ready take per size
// (photos_ready_ms{size:large|medium|small|other}, observe-only)?
//
//   node services/photos/scripts/make-corpus.ts results/photos/loadtest-fixtures   # once
//   ./faultline up photos
//   k6 run loadtests/photos/size-mix.js
//   k6 run -e RATE=2 -e DURATION=120s -e SUMMARY_PATH=results/photos/size-mix.json loadtests/photos/size-mix.js
//
// Env: RATE (1 upload/s), DURATION (60s), FIXTURES_DIR (see common.js), READY_TIMEOUT_MS (60000).

import { check } from 'k6'
import { envNumber } from '../lib/env.js'
import { baseUrl, constantArrivalRate } from '../lib/scenarios.js'
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
  upload,
  waitReady,
} from './common.js'

const base = baseUrl(defaultBaseUrl)
const mix = sizeMix()

export const options = {
  scenarios: {
    // Each iteration waits for its photo to be ready: VUs for RATE × the slowest processing.
    uploads: constantArrivalRate({
      rate: 1,
      duration: '60s',
      preAllocatedVUs: 10,
      maxVUs: 100,
      gracefulStop: readyGrace,
    }),
  },
  thresholds: mergeThresholds(correctnessThresholds(envNumber('MIN_CHECK_RATE', 1)), {
    'photos_ready_ms{size:large}': ['p(99)>=0'],
    'photos_ready_ms{size:medium}': ['p(99)>=0'],
    'photos_ready_ms{size:small}': ['p(99)>=0'],
    'photos_ready_ms{size:other}': ['p(99)>=0'],
    'http_req_duration{op:upload}': ['p(99)>=0'],
    photos_not_ready: ['count>=0'],
  }),
  setupTimeout: '60s',
  summaryTrendStats,
}

export function setup() {
  return { tag: runTag('mix') }
}

export default function (data) {
  const image = pick(mix)
  const tags = { size: image.size }
  const owner = freshOwner(data.tag)
  const { res, id } = upload(base, owner, image, tags)
  check(res, { 'upload: 201 with an id': (r) => r.status === 201 && id !== undefined })
  if (id === undefined) return
  const photo = waitReady(base, owner, id, Date.now(), tags)
  check(photo, { 'ordinary image: ready': (p) => p?.status === 'ready' })
}

export const handleSummary = summaryHandler('photos-size-mix')
