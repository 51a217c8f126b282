// The one request the bench's scripts send to the photo service (step-ramp.js for the knee,
// knee-throughput.js for a closed/open-model run), built from what the bench passes: BASE_URL and
// TARGET_PATH (services/photos/src/bench-target.ts, and packages/bench/src/target.ts for the
// contract). Plain k6 JavaScript.
//
//   TARGET_PATH  `/api/photos` (the target's path): POST /api/photos, multipart, one image
//                (IMAGE_FILE, default fixtures/gps-oriented.jpg: 480×320) from a fresh owner per
//                request, so every request is a new photo and a new processing job, expecting
//                201. Any other path (`/`, the bare Fastify hello-world) is requested with GET as
//                is, so the same script measures the ceiling.
//
// No check() and no body parsing per request: a wrong status counts in http_req_failed instead.

import exec from 'k6/execution'
import http from 'k6/http'
import { baseUrl, envString } from '../lib/env.js'
import { countServerError, defaultBaseUrl, runTag } from './common.js'

/** The knee scripts' traffic (through loadtests/lib/bench.js). Init context only. */
export function kneeTraffic() {
  const base = baseUrl(defaultBaseUrl)
  const template = envString('TARGET_PATH', '/api/photos')
  const uploads = template === '/api/photos'
  const imageFile = envString('IMAGE_FILE', './fixtures/gps-oriented.jpg')
  const image = uploads ? open(imageFile, 'b') : undefined
  const tag = runTag('knee')
  const get = { responseCallback: http.expectedStatuses(200), tags: { name: `GET ${template}` } }
  return {
    needsKeys: false,
    keys: () => [],
    send: (_key, tags) => {
      if (!uploads) return http.get(`${base}${template}`, { ...get, tags: { ...get.tags, ...tags } })
      const res = http.post(
        `${base}/api/photos`,
        { file: http.file(image, 'knee.jpg', 'image/jpeg') },
        {
          headers: { 'x-user-id': `${tag}-${exec.vu.idInTest}-${exec.vu.iterationInInstance}` },
          responseCallback: http.expectedStatuses(201),
          tags: { name: 'POST /api/photos', ...tags },
        },
      )
      countServerError(res, 'upload')
      return res
    },
    // Nothing to create: every request is a fresh owner's upload.
    setup: () => ({}),
  }
}
