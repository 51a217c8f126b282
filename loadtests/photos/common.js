// What every photo load test shares: the upload (`POST /api/photos`, multipart) and the reads
// (`GET /api/photos/:id`), owners unique to the run, waiting for a photo to be ready (time to ready,
// observe-only), the size mix of the uploads, and the correctness counter the thresholds gate on
// (any 5xx, any status 0). Plain k6 JavaScript, imported by the scripts of loadtests/photos/.
//
// The size mix reads images from FIXTURES_DIR (default ../../results/photos/loadtest-fixtures,
// relative to this folder), written by:
//
//   node services/photos/scripts/make-corpus.ts results/photos/loadtest-fixtures
//
// (ordinary/12mp.jpg ≈ 7 MB, ordinary/800x600.jpg, the PNG, GIF, TIFF, AVIF and CMYK files …);
// the 480×320 fixtures/gps-oriented.jpg of this folder needs nothing generated.

import { sleep } from 'k6'
import exec from 'k6/execution'
import http from 'k6/http'
import { Counter, Trend } from 'k6/metrics'
import { envNumber, envString } from '../lib/env.js'

/** `./faultline up photos`' API port (packages/infra/src/topology.ts systemPorts.photos.api). */
export const defaultBaseUrl = 'http://127.0.0.1:18110'

/** Answers ≥ 500 or no answer at all: the one thing no load may produce (thresholds: count == 0). */
export const serverErrors = new Counter('photos_server_errors')
/** Upload acknowledged (201) → `ready`, as a client polling GET sees it (observe-only). */
export const readyMs = new Trend('photos_ready_ms', true)
/** Uploads whose photo did not become ready in READY_TIMEOUT_MS (observe-only). */
export const notReady = new Counter('photos_not_ready')
/** Bytes uploaded, per size class (observe-only: MB/s in the summary). */
export const uploadedBytes = new Counter('photos_uploaded_bytes')

/** Counts a 5xx or a status 0 (timeout, reset) in photos_server_errors, tagged by op. */
export function countServerError(res, op) {
  if (res.status === 0 || res.status >= 500) serverErrors.add(1, { op })
}

/** A string unique to this run (setup()'s start), for owner ids. */
export function runTag(prefix = 'lt') {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36)}`
}

/** An owner unique to this run, scenario and iteration: every upload is a new photo (no dedupe). */
export function freshOwner(tag) {
  return `${tag}-${exec.scenario.name}-${exec.scenario.iterationInTest}`
}

/**
 * POST /api/photos with `image` ({ bytes, name, type }) as `owner` → `{ res, id }`. 201 is a new
 * photo, 200 the same bytes from the same owner again; 503 + Retry-After is S3 unavailable (an
 * honest refusal, counted as a server error here: no load test runs during an outage).
 */
export function upload(base, owner, image, tags = {}) {
  const res = http.post(
    `${base}/api/photos`,
    { file: http.file(image.bytes, image.name, image.type) },
    {
      headers: { 'x-user-id': owner },
      responseType: 'text',
      responseCallback: http.expectedStatuses(200, 201),
      timeout: '60s',
      tags: { op: 'upload', name: 'POST /api/photos', ...tags },
    },
  )
  countServerError(res, 'upload')
  let id
  if (res.status === 201 || res.status === 200) {
    uploadedBytes.add(image.bytes.byteLength, tags)
    try {
      id = res.json('id')
    } catch {
      // Left undefined: the caller's check reports an answer without an id.
    }
  }
  return { res, id }
}

/** GET /api/photos/:id → `{ res, body }`. */
export function getPhoto(base, owner, id, tags = {}) {
  const res = http.get(`${base}/api/photos/${id}`, {
    headers: { 'x-user-id': owner },
    responseType: 'text',
    responseCallback: http.expectedStatuses(200),
    tags: { op: 'read', name: 'GET /api/photos/:id', ...tags },
  })
  countServerError(res, 'read')
  let body
  if (res.status === 200) {
    try {
      body = res.json()
    } catch {
      // Left undefined.
    }
  }
  return { res, body }
}

/**
 * How long an iteration that waits for `ready` may outlive its scenario (gracefulStop): longer
 * than READY_TIMEOUT_MS, so every such iteration ends with its check instead of being interrupted
 * (an interrupted iteration checks nothing, and a photo that never got ready would go unseen).
 */
export const readyGrace = `${Math.ceil(envNumber('READY_TIMEOUT_MS', 60_000) / 1000) + 15}s`

/**
 * Polls GET every `pollMs` until the photo leaves `processing`, at most READY_TIMEOUT_MS (default
 * 60 s); records acknowledged → ready in photos_ready_ms (from `ackedAtMs`, the 201's arrival),
 * or counts it in photos_not_ready. Returns the last body.
 */
export function waitReady(base, owner, id, ackedAtMs, tags = {}, pollMs = 100) {
  const timeoutMs = envNumber('READY_TIMEOUT_MS', 60_000)
  for (;;) {
    const { body } = getPhoto(base, owner, id, { ...tags, probe: 'ready' })
    if (body !== undefined && body.status !== 'processing') {
      if (body.status === 'ready') readyMs.add(Date.now() - ackedAtMs, tags)
      else notReady.add(1, { ...tags, status: String(body.status) })
      return body
    }
    if (Date.now() - ackedAtMs > timeoutMs) {
      notReady.add(1, { ...tags, status: 'timeout' })
      return body
    }
    sleep(pollMs / 1000)
  }
}

/** The repository's own small fixture (480×320 JPEG, EXIF orientation 6 and GPS). Init context only. */
export function smallJpeg() {
  return {
    bytes: open('./fixtures/gps-oriented.jpg', 'b'),
    name: 'small.jpg',
    type: 'image/jpeg',
    size: 'small',
  }
}

/**
 * The size mix of real uploads, by weight (of 20): phone photos of 12 MP dominate the bytes (8),
 * resized/shared photos of about half a megapixel (6), small web images and screenshots (3), and
 * the other formats a library takes in — PNG with alpha, a 16-bit PNG, an animated GIF, a CMYK
 * JPEG, AVIF, TIFF (3 together). Init context only (reads FIXTURES_DIR).
 */
export function sizeMix() {
  const dir = envString('FIXTURES_DIR', '../../results/photos/loadtest-fixtures')
  const file = (path, type, size) => ({
    bytes: open(`${dir}/${path}`, 'b'),
    name: path.split('/').pop(),
    type,
    size,
  })
  const other = [
    file('ordinary/alpha.png', 'image/png', 'other'),
    file('ordinary/16-bit.png', 'image/png', 'other'),
    file('ordinary/animated.gif', 'image/gif', 'other'),
    file('ordinary/cmyk.jpg', 'image/jpeg', 'other'),
    file('ordinary/green.avif', 'image/avif', 'other'),
    file('ordinary/plain.tiff', 'image/tiff', 'other'),
  ]
  return [
    { weight: 8, images: [file('ordinary/12mp.jpg', 'image/jpeg', 'large')] },
    { weight: 6, images: [file('ordinary/800x600.jpg', 'image/jpeg', 'medium')] },
    { weight: 3, images: [smallJpeg()] },
    { weight: 3, images: other },
  ]
}

/** One image of a weighted mix (sizeMix()). */
export function pick(mix) {
  const total = mix.reduce((n, m) => n + m.weight, 0)
  let r = Math.random() * total
  for (const m of mix) {
    r -= m.weight
    if (r < 0) return m.images[Math.floor(Math.random() * m.images.length)]
  }
  const last = mix[mix.length - 1].images
  return last[last.length - 1]
}

/** Thresholds of correctness every photo load test gates on: no 5xx, checks pass. */
export function correctnessThresholds(minCheckRate = envNumber('MIN_CHECK_RATE', 0.99)) {
  return {
    photos_server_errors: ['count==0'],
    checks: [`rate>=${minCheckRate}`],
  }
}
