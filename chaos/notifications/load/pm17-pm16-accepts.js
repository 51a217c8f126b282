// k6 load for notifications/pm17 (relay outage, poison, TTL) and notifications/pm16 (a Kafka
// producer per outbox row): accepts notifications at a constant arrival rate through the API,
// spread round-robin over every API instance (BASE_URLS). Each goes to one of RECIPIENTS
// recipients `<RECIPIENT_PREFIX><n>` (seeded by the experiment's setup) on the webhook channel,
// with template TEMPLATE; a share SHORT_SHARE of them carries a short ttlS (SHORT_TTL_S), the rest
// LONG_TTL_S. Each request is tagged op=accept and bounded by a client timeout; 202 is the only success.
//
//   env: RATE (default 20), RECIPIENTS (default 20), RECIPIENT_PREFIX (required), TEMPLATE
//        (required), SHORT_SHARE (default 0.5), SHORT_TTL_S (default 3), LONG_TTL_S (default 3600),
//        CATEGORY (default lab), TIMEOUT (default 2s), DURATION / BASE_URLS (set by the lab)
import { check } from 'k6'
import http from 'k6/http'
import { assertLoopback, envNumber, envString } from '../../../loadtests/lib/env.js'
import { constantArrivalRate } from '../../../loadtests/lib/scenarios.js'

const targets = envString('BASE_URLS', envString('BASE_URL', 'http://127.0.0.1:18120'))
  .split(',')
  .map((url) => assertLoopback(url.trim()).replace(/\/+$/, ''))
const rate = envNumber('RATE', 20)
const recipients = envNumber('RECIPIENTS', 20)
const recipientPrefix = envString('RECIPIENT_PREFIX', '')
const template = envString('TEMPLATE', '')
const shortShare = envNumber('SHORT_SHARE', 0.5)
const shortTtlS = envNumber('SHORT_TTL_S', 3)
const longTtlS = envNumber('LONG_TTL_S', 3600)
const category = envString('CATEGORY', 'lab')
const timeout = envString('TIMEOUT', '2s')
if (recipientPrefix === '' || template === '') throw new Error('RECIPIENT_PREFIX and TEMPLATE are required')

export const options = {
  discardResponseBodies: true,
  scenarios: {
    accepts: constantArrivalRate({
      rate,
      duration: envString('DURATION', '30s'),
      preAllocatedVUs: Math.max(5, Math.ceil(rate / 5)),
      maxVUs: Math.max(20, rate * 2),
      gracefulStop: '3s',
    }),
  },
}

const accepted = http.expectedStatuses(202)
const json = { 'content-type': 'application/json' }
let n = 0

export default function () {
  const i = n++
  const base = targets[(__VU + i) % targets.length]
  const short = Math.random() < shortShare
  const body = {
    recipientId: `${recipientPrefix}${Math.floor(Math.random() * recipients)}`,
    template,
    data: { name: `vu${__VU}-${__ITER}` },
    channels: ['webhook'],
    category,
    priority: 'normal',
    ttlS: short ? shortTtlS : longTtlS,
  }
  const res = http.post(`${base}/api/notifications`, JSON.stringify(body), {
    headers: json,
    timeout,
    responseCallback: accepted,
    tags: { op: 'accept', ttl: short ? 'short' : 'long', name: 'POST /api/notifications' },
  })
  check(res, { 'accept: 202': (r) => r.status === 202 })
}
