// The one request the bench's scripts send to the notification service (step-ramp.js for the knee,
// knee-throughput.js for the benchmark against bare Fastify), built from what the bench passes:
// BASE_URL, TARGET_PATH and CODES_FILE (services/notifications/src/bench-target.ts, and
// packages/bench/src/target.ts for the contract). Plain k6 JavaScript.
//
//   TARGET_PATH  with `{code}` (the target's `/api/notifications?recipient={code}`): POST
//                /api/notifications for recipient {code} — the welcome template to email + push,
//                normal priority, a fresh Idempotency-Key per request — expecting 202; the pipeline
//                behind the API relays, routes and sends each one. Without `{code}` (`/`, the bare
//                Fastify hello-world) the path is requested with GET as is, so the same script
//                measures the ceiling.
//   CODES_FILE   a JSON array of recipient ids (the bench writes one after seeding them); else
//                setup() creates RECIPIENTS (default 200) through the API.
//
// No check() and no body parsing per request: a wrong status counts in http_req_failed instead.

import { SharedArray } from 'k6/data'
import exec from 'k6/execution'
import http from 'k6/http'
import { baseUrl, envString } from '../lib/env.js'
import { countServerError, createRecipients, defaultBaseUrl, runTag } from './common.js'

/** Recipient ids from CODES_FILE (shared read-only between VUs), else []. Init context only. */
export function kneeRecipients() {
  const path = envString('CODES_FILE', '')
  if (path === '') return []
  return new SharedArray('knee-recipients', () => {
    const ids = JSON.parse(open(path))
    if (!Array.isArray(ids) || ids.length === 0)
      throw new Error(`${path}: expected a non-empty JSON array of recipient ids`)
    return ids.map(String)
  })
}

/** The knee scripts' traffic (through loadtests/lib/bench.js). Init context only. */
export function kneeTraffic() {
  const base = baseUrl(defaultBaseUrl)
  const template = envString('TARGET_PATH', '/api/notifications?recipient={code}')
  const notify = template.includes('{code}')
  const fileRecipients = notify ? kneeRecipients() : []
  const tag = runTag('knee')
  const post = {
    headers: { 'content-type': 'application/json' },
    responseCallback: http.expectedStatuses(202),
    tags: { name: 'POST /api/notifications' },
  }
  const get = { responseCallback: http.expectedStatuses(200), tags: { name: `GET ${template}` } }
  return {
    needsKeys: notify,
    keys: (data) => (fileRecipients.length > 0 ? fileRecipients : data.recipients),
    send: (recipientId, tags) => {
      if (!notify) return http.get(`${base}${template}`, { ...get, tags: { ...get.tags, ...tags } })
      const body = JSON.stringify({
        recipientId,
        template: 'welcome',
        data: { name: 'Knee' },
        channels: ['email', 'push'],
        category: 'knee',
        priority: 'normal',
      })
      const res = http.post(`${base}/api/notifications`, body, {
        ...post,
        headers: {
          ...post.headers,
          'idempotency-key': `${tag}-${exec.vu.idInTest}-${exec.vu.iterationInInstance}`,
        },
        tags: { ...post.tags, ...tags },
      })
      countServerError(res, 'notify')
      return res
    },
    setup: () =>
      !notify || fileRecipients.length > 0
        ? { recipients: [] }
        : { recipients: createRecipients(base, runTag('kr'), 200) },
    options: { setupTimeout: '120s' },
  }
}
