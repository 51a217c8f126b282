// Notifications smoke test: does every promise of the API (issue 12) hold, once, through the whole
// pipeline? A few iterations from one VU, each with a fresh recipient: PUT recipient (201, then 200
// replaced), 400 naming the field (phone, timezone), POST a notification with an Idempotency-Key
// (202), the same key and body again (202, the same id, `Idempotent-Replay: true`), the same key
// with another body (422 naming headers.idempotency-key), unknown recipient (404 body.recipientId),
// unknown template (422 body.template), a channel the template lacks (422 body.channels), a
// missing template variable (422 body.data.name), a bad priority (400 body.priority); then GET
// until `done`: every asked channel sent through the providers. Malformed and unknown ids are 404.
// Every check must pass (MIN_CHECK_RATE 1), and no request may get a 5xx.
//
//   ./faultline up notifications
//   k6 run loadtests/notifications/smoke.js                         # BASE_URL=http://127.0.0.1:18120
//   k6 run -e ITERATIONS=3 -e SUMMARY_PATH=results/notifications/smoke.json loadtests/notifications/smoke.js
//
// Env: ITERATIONS (3), DONE_TIMEOUT_MS (20000: how long the pipeline may take to send).

import { check } from 'k6'
import { envNumber } from '../lib/env.js'
import * as ledger from '../lib/ledger.js'
import { baseUrl, selectScenario, smoke } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import {
  correctnessThresholds,
  defaultBaseUrl,
  getNotification,
  postNotification,
  putRecipient,
  recipientBody,
  runTag,
  waitDone,
} from './common.js'

const base = baseUrl(defaultBaseUrl)
const doneTimeoutMs = envNumber('DONE_TIMEOUT_MS', 20000)

export const options = {
  scenarios: selectScenario({ smoke: () => smoke({ iterations: 3, maxDuration: '90s' }) }, 'smoke'),
  thresholds: correctnessThresholds(envNumber('MIN_CHECK_RATE', 1)),
  summaryTrendStats,
}

export function setup() {
  return { tag: runTag('smoke') }
}

function field(res) {
  try {
    return res.json('field')
  } catch {
    return undefined
  }
}

function recipientChecks(id) {
  const created = putRecipient(base, id, recipientBody(__ITER))
  check(created, { 'recipient: 201 created': (r) => r.status === 201 })
  check(putRecipient(base, id, recipientBody(__ITER, { timezone: 'Europe/Paris' })), {
    'recipient: 200 replaced': (r) => r.status === 200,
  })
  check(putRecipient(base, id, recipientBody(__ITER, { phone: '555-0100' })), {
    'recipient: 400 naming body.phone': (r) => r.status === 400 && field(r) === 'body.phone',
  })
  check(putRecipient(base, id, recipientBody(__ITER, { timezone: 'Mars/Olympus' })), {
    'recipient: 400 naming body.timezone': (r) => r.status === 400 && field(r) === 'body.timezone',
  })
}

function rejections(recipientId, tag) {
  const ok = {
    recipientId,
    template: 'welcome',
    data: { name: 'Ada' },
    category: 'smoke',
    priority: 'normal',
  }
  const cases = [
    [
      'unknown recipient: 404 body.recipientId',
      { ...ok, recipientId: `${tag}-nobody` },
      404,
      'body.recipientId',
    ],
    ['unknown template: 422 body.template', { ...ok, template: 'no-such-template' }, 422, 'body.template'],
    [
      'channel not in template: 422 body.channels',
      { ...ok, template: 'otp', data: { code: '1' }, channels: ['push'] },
      422,
      'body.channels',
    ],
    ['missing variable: 422 body.data.name', { ...ok, data: {} }, 422, 'body.data.name'],
    ['bad priority: 400 body.priority', { ...ok, priority: 'urgent' }, 400, 'body.priority'],
  ]
  for (const [name, body, status, expectedField] of cases) {
    const { res } = postNotification(base, body, undefined, { case: 'reject' })
    check(res, { [name]: (r) => r.status === status && field(r) === expectedField })
  }
  const { res } = postNotification(base, ok, ' bad key ', { case: 'reject' })
  check(res, {
    'bad Idempotency-Key: 400 headers.idempotency-key': (r) =>
      r.status === 400 && field(r) === 'headers.idempotency-key',
  })
}

export default function (data) {
  const recipientId = `${data.tag}-${__VU}-${__ITER}`
  recipientChecks(recipientId)
  rejections(recipientId, data.tag)

  const body = {
    recipientId,
    template: 'order-shipped',
    data: { orderId: `O-${__ITER}`, carrier: 'Post' },
    channels: ['email', 'sms', 'push'],
    category: 'smoke',
    priority: 'normal',
  }
  const key = `${data.tag}-key-${__VU}-${__ITER}`
  const first = postNotification(base, body, key)
  check(first.res, { 'notify: 202 accepted with an id': (r) => r.status === 202 && first.id !== undefined })
  ledger.fromResponse('notify', first.id ?? key, first.res)
  if (first.id === undefined) return

  const replay = postNotification(base, body, key, { case: 'replay' })
  check(replay.res, {
    'same key, same body: 202 replay of the same id': (r) =>
      r.status === 202 && replay.id === first.id && r.headers['Idempotent-Replay'] === 'true',
  })
  const mismatch = postNotification(base, { ...body, priority: 'low' }, key, { case: 'mismatch' })
  check(mismatch.res, {
    'same key, other body: 422 headers.idempotency-key': (r) =>
      r.status === 422 && field(r) === 'headers.idempotency-key',
  })

  const done = waitDone(base, first.id, {}, { timeoutMs: doneTimeoutMs })
  check(done, {
    'done: every asked channel sent': (d) =>
      d !== undefined &&
      d.deliveries.length === 3 &&
      d.deliveries.every((x) => x.status === 'sent' && x.sentAt !== null),
  })
  check(getNotification(base, '00000000-0000-4000-8000-000000000000').res, {
    'unknown id: 404': (r) => r.status === 404,
  })
  check(getNotification(base, 'not-a-uuid').res, { 'malformed id: 404': (r) => r.status === 404 })
}

export const handleSummary = summaryHandler('notifications-smoke')
