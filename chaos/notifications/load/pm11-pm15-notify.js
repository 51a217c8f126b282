// k6 load for notifications/pm11 (ambiguous provider timeouts) and notifications/pm15 (a channel
// worker or router SIGSTOPped): notifications posted at a constant arrival rate to the API, each
// with an Idempotency-Key of its own, for one channel, to recipients `<RECIPIENT_PREFIX>0 …
// <RECIPIENTS-1>` that the experiment's setup created. Every notification's data carries a value
// no other notification has, so its rendered body is unique: a provider that gets no key can still
// tell a repeat of one message (a duplicate the recipient sees) from another message.
// Each request is tagged op=notify and bounded by a client timeout; a 202 is the only success.
//
//   env: RECIPIENT_PREFIX (required), RECIPIENTS (default 20), CHANNEL (email), TEMPLATE (welcome),
//        RATE (notifications/s, default 5), TIMEOUT (2s), DURATION (set by the lab),
//        BASE_URLS / BASE_URL (set by the lab)
import { check } from 'k6'
import http from 'k6/http'
import { assertLoopback, envNumber, envString } from '../../../loadtests/lib/env.js'
import { constantArrivalRate } from '../../../loadtests/lib/scenarios.js'

const targets = envString('BASE_URLS', envString('BASE_URL', 'http://127.0.0.1:18120'))
  .split(',')
  .map((url) => assertLoopback(url.trim()).replace(/\/+$/, ''))
const prefix = envString('RECIPIENT_PREFIX', '')
if (prefix === '') throw new Error('RECIPIENT_PREFIX is not set: the experiment creates the recipients')
const recipients = envNumber('RECIPIENTS', 20)
const channel = envString('CHANNEL', 'email')
const template = envString('TEMPLATE', 'welcome')
const rate = envNumber('RATE', 5)
const timeout = envString('TIMEOUT', '2s')

export const options = {
  discardResponseBodies: true,
  scenarios: {
    notify: constantArrivalRate({
      rate,
      duration: envString('DURATION', '20s'),
      // Accepting is one transaction: the pool only grows when the API slows down.
      preAllocatedVUs: Math.max(5, Math.ceil(rate / 5)),
      maxVUs: Math.max(20, rate * 2),
      gracefulStop: '3s',
    }),
  },
}

/** One value per run, so keys and bodies never repeat an earlier run's. */
export function setup() {
  return { run: `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}` }
}

const accepted = http.expectedStatuses(202)
let n = 0

export default function (data) {
  const i = n++
  const base = targets[(__VU + i) % targets.length]
  const unique = `${data.run}-${__VU}-${__ITER}`
  const res = http.post(
    `${base}/api/notifications`,
    JSON.stringify({
      recipientId: `${prefix}${(__VU * 7 + i) % recipients}`,
      template,
      data: { name: `n${unique}` },
      channels: [channel],
      category: 'lab',
      priority: 'normal',
    }),
    {
      headers: { 'content-type': 'application/json', 'idempotency-key': `k6-${unique}` },
      timeout,
      responseCallback: accepted,
      tags: { op: 'notify', name: 'POST /api/notifications' },
    },
  )
  check(res, { 'notify: 202': (r) => r.status === 202 })
}
