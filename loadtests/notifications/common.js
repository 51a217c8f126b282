// What every notification load test shares: the API's operations (store a recipient, post a
// notification with an Idempotency-Key, read its state and wait for it to be done), the run's
// recipients, the steady mix of templates, channels and priorities, and the correctness counter
// the thresholds gate on (any 5xx, any status 0). Plain k6 JavaScript, imported by every script of
// loadtests/notifications/.
//
// Recipients are created by setup() through the API (`PUT /api/recipients/<tag>-<i>`, RECIPIENTS
// of them, default 100), with an id unique to the run, so the per-recipient limits of one run never
// spill into the next. Notifications use the built-in templates (welcome, otp, order-shipped) and
// the project's own providers behind the worker: nothing leaves the machine.

import { check, sleep } from 'k6'
import exec from 'k6/execution'
import http from 'k6/http'
import { Counter, Trend } from 'k6/metrics'
import { envNumber } from '../lib/env.js'

/** `./faultline up notifications`' API port (packages/infra/src/topology.ts systemPorts.notifications.api). */
export const defaultBaseUrl = 'http://127.0.0.1:18120'

/** Answers ≥ 500 or no answer at all: the one thing no load may produce (thresholds: count == 0). */
export const serverErrors = new Counter('notifications_server_errors')
/** Accepted → every delivery terminal, as a client polling GET sees it (observe-only). */
export const doneMs = new Trend('notifications_done_ms', true)

const json = { 'content-type': 'application/json' }

/** Counts a 5xx or a status 0 (timeout, reset) in notifications_server_errors, tagged by op. */
export function countServerError(res, op) {
  if (res.status === 0 || res.status >= 500) serverErrors.add(1, { op })
}

/** A string unique to this run (setup()'s start), for recipient ids and idempotency keys. */
export function runTag(prefix = 'lt') {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36)}`
}

/** A recipient with every contact point (the webhook channel is not part of the load mix). */
export function recipientBody(i, extra = {}) {
  return {
    email: `load${i}@example.test`,
    phone: `+1555${String(1000000 + (i % 8999999))}`,
    pushToken: `push-${i}`,
    timezone: 'UTC',
    quietHours: null,
    optOuts: {},
    ...extra,
  }
}

/** PUT /api/recipients/:id. */
export function putRecipient(base, id, body, tags = {}) {
  const res = http.put(`${base}/api/recipients/${encodeURIComponent(id)}`, JSON.stringify(body), {
    headers: json,
    responseCallback: http.expectedStatuses(200, 201),
    tags: { op: 'recipient', name: 'PUT /api/recipients/:id', ...tags },
  })
  countServerError(res, 'recipient')
  return res
}

/**
 * setup() helper: `count` recipients `<tag>-<i>` (RECIPIENTS, default 100, at most 5 000), 50 at a
 * time; fails the run when fewer than 99 % were stored.
 */
export function createRecipients(base, tag, count = envNumber('RECIPIENTS', 100)) {
  if (!(count >= 1 && count <= 5000)) throw new Error(`RECIPIENTS=${count}: between 1 and 5000`)
  const ids = []
  for (let i = 0; i < count; i += 50) {
    const batch = []
    for (let j = i; j < Math.min(count, i + 50); j++) {
      batch.push({
        method: 'PUT',
        url: `${base}/api/recipients/${tag}-${j}`,
        body: JSON.stringify(recipientBody(j)),
        params: { headers: json, tags: { op: 'recipient', phase: 'setup' } },
      })
    }
    http.batch(batch).forEach((res, k) => {
      if (res.status === 200 || res.status === 201) ids.push(`${tag}-${i + k}`)
    })
  }
  if (ids.length < count * 0.99) throw new Error(`setup stored only ${ids.length} of ${count} recipients`)
  return ids
}

/**
 * POST /api/notifications with `key` as its Idempotency-Key (omitted when undefined) → `{ res, id }`.
 * 202 is the answer a new or replayed notification gets; the caller checks anything else.
 */
export function postNotification(base, body, key, tags = {}) {
  const headers = key === undefined ? json : { ...json, 'idempotency-key': key }
  const res = http.post(`${base}/api/notifications`, JSON.stringify(body), {
    headers,
    responseType: 'text',
    responseCallback: http.expectedStatuses(202),
    tags: { op: 'notify', name: 'POST /api/notifications', ...tags },
  })
  countServerError(res, 'notify')
  let id
  if (res.status === 202) {
    try {
      id = res.json('id')
    } catch {
      // Left undefined: the caller's check reports a 202 without an id.
    }
  }
  return { res, id }
}

/** GET /api/notifications/:id → `{ res, body }`. */
export function getNotification(base, id, tags = {}) {
  const res = http.get(`${base}/api/notifications/${id}`, {
    responseType: 'text',
    responseCallback: http.expectedStatuses(200, 404),
    tags: { op: 'status', name: 'GET /api/notifications/:id', ...tags },
  })
  countServerError(res, 'status')
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
 * Polls GET until the notification is `done` (every delivery terminal), every `pollMs`, at most
 * `timeoutMs`; records accepted → done in notifications_done_ms. Returns the last body (or
 * undefined when it never got done).
 */
export function waitDone(base, id, tags = {}, { pollMs = 100, timeoutMs = 30000 } = {}) {
  const started = Date.now()
  while (Date.now() - started < timeoutMs) {
    const { body } = getNotification(base, id, { ...tags, probe: 'done' })
    if (body?.status === 'done') {
      const created = Date.parse(body.createdAt)
      if (Number.isFinite(created)) doneMs.add(Date.now() - created, tags)
      return body
    }
    sleep(pollMs / 1000)
  }
  return undefined
}

/**
 * The steady mix: which template, channels and priority the next notification uses. Weights (of
 * 20): welcome to email+push 8, order-shipped to email+sms+push 5, otp by sms (critical) 4, welcome
 * to every channel of the template (channels omitted) 2, low-priority order-shipped by email 1.
 */
const mix = [
  { weight: 8, template: 'welcome', channels: ['email', 'push'], priority: 'normal', data: { name: 'Ada' } },
  {
    weight: 5,
    template: 'order-shipped',
    channels: ['email', 'sms', 'push'],
    priority: 'normal',
    data: { orderId: 'A-1042', carrier: 'Post' },
  },
  { weight: 4, template: 'otp', channels: ['sms'], priority: 'critical', data: { code: '493817' } },
  { weight: 2, template: 'welcome', channels: undefined, priority: 'low', data: { name: 'Grace' } },
  {
    weight: 1,
    template: 'order-shipped',
    channels: ['email'],
    priority: 'low',
    data: { orderId: 'B-7', carrier: 'Rail' },
  },
]
const mixTotal = mix.reduce((n, m) => n + m.weight, 0)

/** A request body of the mix for `recipientId` (category `load` unless given). */
export function mixedBody(recipientId, category = 'load') {
  let pick = Math.random() * mixTotal
  let chosen = mix[0]
  for (const m of mix) {
    pick -= m.weight
    if (pick < 0) {
      chosen = m
      break
    }
  }
  const body = {
    recipientId,
    template: chosen.template,
    data: chosen.data,
    category,
    priority: chosen.priority,
  }
  if (chosen.channels !== undefined) body.channels = chosen.channels
  return { body, tags: { template: chosen.template, priority: chosen.priority } }
}

/** An Idempotency-Key unique to this run, scenario and iteration. */
export function iterationKey(tag) {
  return `${tag}-${exec.scenario.name}-${exec.scenario.iterationInTest}`
}

/**
 * One notification of the mix with a fresh key; checks 202 with an id. Every `replayShare` (default
 * 0.05) of them is sent twice with the same key: the second answer must be the same id with
 * `Idempotent-Replay: true` (or 409 while the first is still in flight, which cannot happen here:
 * the first has answered).
 */
export function notifyMixed(base, data, replayShare = 0.05) {
  const recipient = data.recipients[Math.floor(Math.random() * data.recipients.length)]
  const { body, tags } = mixedBody(recipient)
  const key = iterationKey(data.tag)
  const first = postNotification(base, body, key, tags)
  check(first.res, { 'notify: 202 with an id': (r) => r.status === 202 && first.id !== undefined })
  if (first.id === undefined || Math.random() >= replayShare) return first.id
  const again = postNotification(base, body, key, { ...tags, replay: 'yes' })
  check(again.res, {
    'replay: 202, same id, Idempotent-Replay': (r) =>
      r.status === 202 && again.id === first.id && r.headers['Idempotent-Replay'] === 'true',
  })
  return first.id
}

/** Thresholds of correctness every notification load test gates on: no 5xx, checks pass. */
export function correctnessThresholds(minCheckRate = envNumber('MIN_CHECK_RATE', 0.99)) {
  return {
    notifications_server_errors: ['count==0'],
    checks: [`rate>=${minCheckRate}`],
  }
}
