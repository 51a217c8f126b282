// k6 load for the photo experiments: uploads at a constant arrival rate through the API
// (multipart; IMAGE, default the 480×320 JPEG of loadtests/photos/fixtures), each by a fresh owner — the same
// bytes from another owner are another photo (dedupe is per owner), so every 201 is one
// processing job. Spread round-robin over every API instance (BASE_URLS); tagged op=upload; a 201
// is the only success.
//
//   env: RATE (uploads/s, default 3), OWNER_PREFIX (default "good-"), TIMEOUT (default 5s),
//        IMAGE (a file path, absolute or relative to this script), IMAGE_NAME (the form's
//        filename, default upload.jpg) and IMAGE_TYPE (its Content-Type, default image/jpeg: a
//        label only, the service sniffs the type from the bytes),
//        DURATION (set by the lab), BASE_URLS / BASE_URL (set by the lab)
import { check } from 'k6'
import http from 'k6/http'
import { assertLoopback, envNumber, envString } from '../../../loadtests/lib/env.js'
import { constantArrivalRate } from '../../../loadtests/lib/scenarios.js'

const targets = envString('BASE_URLS', envString('BASE_URL', 'http://127.0.0.1:18110'))
  .split(',')
  .map((url) => assertLoopback(url.trim()).replace(/\/+$/, ''))
const rate = envNumber('RATE', 3)
const timeout = envString('TIMEOUT', '5s')
const ownerPrefix = envString('OWNER_PREFIX', 'good-')
const image = open(envString('IMAGE', '../../../loadtests/photos/fixtures/gps-oriented.jpg'), 'b')
const imageName = envString('IMAGE_NAME', 'upload.jpg')
const imageType = envString('IMAGE_TYPE', 'image/jpeg')

export const options = {
  discardResponseBodies: true,
  scenarios: {
    uploads: constantArrivalRate({
      rate,
      duration: envString('DURATION', '20s'),
      // An upload takes tens of ms (S3 then Postgres); the pool only grows when the API slows down.
      preAllocatedVUs: Math.max(4, Math.ceil(rate)),
      maxVUs: Math.max(10, rate * 4),
      gracefulStop: '5s',
    }),
  },
}

const created = http.expectedStatuses(201)
let n = 0

export default function () {
  const base = targets[(__VU + n++) % targets.length]
  const res = http.post(
    `${base}/api/photos`,
    { file: http.file(image, imageName, imageType) },
    {
      headers: { 'x-user-id': `${ownerPrefix}${__VU}-${__ITER}` },
      timeout,
      responseCallback: created,
      tags: { op: 'upload', name: 'POST /api/photos' },
    },
  )
  check(res, { 'upload: 201': (r) => r.status === 201 })
}
