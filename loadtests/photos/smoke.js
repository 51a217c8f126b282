// Photos smoke test: does every upload and read answer the way the API promises (issue 13)? A few
// iterations from one VU, each as a fresh owner: upload a JPEG carrying GPS and orientation 6
// (multipart, 201 once S3 has it), the same bytes again (200, the same photo), wait on the event
// stream for `ready`, read the photo (variants, placeholder, portrait as displayed), fetch every
// variant (immutable cache header), and the 4xx answers: 400 naming the field, 404 for another
// owner's photo and for unknown ids. Every check must pass (MIN_CHECK_RATE defaults to 1 here).
// Needs the API and the worker running:
//
//   ./faultline up photos
//   k6 run loadtests/photos/smoke.js                                 # BASE_URL=http://127.0.0.1:18110
//   k6 run -e ITERATIONS=3 -e SUMMARY_PATH=results/photos/smoke.json loadtests/photos/smoke.js
//
// Env: READY_TIMEOUT_MS (30000: how long processing may take).

import { check, sleep } from 'k6'
import http from 'k6/http'
import { envNumber } from '../lib/env.js'
import { baseUrl, selectScenario, smoke } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { checkThresholds, httpThresholds, mergeThresholds } from '../lib/thresholds.js'

const base = baseUrl('http://127.0.0.1:18110')
const readyTimeoutMs = envNumber('READY_TIMEOUT_MS', 30_000)
const jpeg = open('./fixtures/gps-oriented.jpg', 'b')

export const options = {
  scenarios: selectScenario({ smoke: () => smoke({ iterations: 3, maxDuration: '120s' }) }, 'smoke'),
  thresholds: mergeThresholds(
    httpThresholds({ p99Ms: envNumber('P99_MS', 2000) }),
    checkThresholds({ minRate: envNumber('MIN_CHECK_RATE', 1) }),
  ),
  summaryTrendStats,
}

function upload(owner, tags = {}) {
  const headers = owner === undefined ? {} : { 'x-user-id': owner }
  return http.post(
    `${base}/api/photos`,
    { file: http.file(jpeg, 'beach.jpg', 'image/jpeg') },
    { headers, responseCallback: http.expectedStatuses(200, 201, 400), tags: { op: 'upload', ...tags } },
  )
}

function photo(owner, id, tags = {}) {
  return http.get(`${base}/api/photos/${id}`, {
    headers: { 'x-user-id': owner },
    responseCallback: http.expectedStatuses(200, 404),
    tags: { op: 'read', name: 'GET /api/photos/:id', ...tags },
  })
}

function namesField(res, field) {
  try {
    return res.status === 400 && res.json('field') === field
  } catch {
    return false
  }
}

/** Polls the photo until it leaves `processing` (the SSE stream is checked once, separately). */
function settled(owner, id) {
  const deadline = Date.now() + readyTimeoutMs
  for (;;) {
    const res = photo(owner, id, { probe: 'settled' })
    if (res.status === 200 && res.json('status') !== 'processing') return res
    if (Date.now() > deadline) return res
    sleep(0.2)
  }
}

export default function () {
  const owner = `smoke-${__VU}-${__ITER}-${Date.now()}`
  const created = upload(owner, { name: 'POST /api/photos' })
  check(created, {
    'upload: 201, processing, sha256 and bytes': (r) =>
      r.status === 201 && r.json('status') === 'processing' && String(r.json('sha256')).length === 64,
  })
  if (created.status !== 201) return
  const id = created.json('id')
  const again = upload(owner, { name: 'POST /api/photos (repeat)' })
  check(again, {
    'the same bytes again: 200, the same photo': (r) => r.status === 200 && r.json('id') === id,
  })

  const events = http.get(`${base}/api/photos/${id}/events`, {
    headers: { 'x-user-id': owner },
    timeout: `${readyTimeoutMs}ms`,
    tags: { op: 'events', name: 'GET /api/photos/:id/events' },
  })
  check(events, {
    'event stream: text/event-stream ending with ready': (r) =>
      String(r.headers['Content-Type']).startsWith('text/event-stream') && /"status":"ready"/.test(r.body),
  })

  const ready = settled(owner, id)
  check(ready, {
    'ready with a placeholder, portrait as displayed': (r) =>
      r.json('status') === 'ready' && r.json('placeholder') !== null && r.json('height') > r.json('width'),
  })
  const variants = ready.json('variants') || {}
  for (const size of ['thumb', 'preview']) {
    for (const format of ['webp', 'jpeg']) {
      const url = variants[size]?.[format]
      const res = url
        ? http.get(url, { headers: { 'x-user-id': owner }, tags: { op: 'variant', name: 'GET variant' } })
        : undefined
      check(res, {
        [`${size} ${format}: 200, immutable`]: (r) =>
          r !== undefined && r.status === 200 && String(r.headers['Cache-Control']).includes('immutable'),
      })
    }
  }

  check(photo(`${owner}-other`, id, { case: 'other owner' }), {
    "another owner's photo: 404": (r) => r.status === 404,
  })
  check(photo(owner, 'abc', { case: 'malformed' }), { 'malformed id: 404': (r) => r.status === 404 })
  check(upload(undefined, { name: 'POST /api/photos (anonymous)' }), {
    'no x-user-id: 400 naming headers.x-user-id': (r) => namesField(r, 'headers.x-user-id'),
  })
  const list = http.get(`${base}/api/photos?limit=0`, {
    headers: { 'x-user-id': owner },
    responseCallback: http.expectedStatuses(400),
    tags: { op: 'list', name: 'GET /api/photos (bad limit)' },
  })
  check(list, { 'limit=0: 400 naming query.limit': (r) => namesField(r, 'query.limit') })
}

export const handleSummary = summaryHandler('photos-smoke')
