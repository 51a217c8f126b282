// Notifications steady mix: what a product sends all day — several templates, channels and
// priorities (common.js mixedBody: welcome to email+push, order-shipped to three channels, OTPs by
// SMS as critical, a few low-priority ones), each POST with its own Idempotency-Key, a share of
// them repeated with the same key (must replay the same id), over RECIPIENTS recipients, at a
// constant arrival rate. A probe posts one notification a second and polls it until done:
// accepted → done (notifications_done_ms, observe-only: performance is measured by the benchmark,
// not asserted here). The thresholds are correctness only: no 5xx or dropped connection, the checks
// pass.
//
//   ./faultline up notifications
//   k6 run loadtests/notifications/steady.js
//   k6 run -e RATE=100 -e DURATION=60s -e SUMMARY_PATH=results/notifications/steady.json loadtests/notifications/steady.js
//
// Env: RATE (20/s), DURATION (30s), RECIPIENTS (100), REPLAY_SHARE (0.05), PROBE_RATE (1/s).
// The server's RATE_LIMIT_PER_RECIPIENT (default 20 an hour per recipient and category) suppresses
// what exceeds it: at RATE × DURATION ÷ RECIPIENTS above it, expect `rate_limited` deliveries.

import { check } from 'k6'
import { envNumber } from '../lib/env.js'
import { baseUrl, constantArrivalRate } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { mergeThresholds } from '../lib/thresholds.js'
import {
  correctnessThresholds,
  createRecipients,
  defaultBaseUrl,
  notifyMixed,
  postNotification,
  runTag,
  waitDone,
} from './common.js'

const base = baseUrl(defaultBaseUrl)
const replayShare = envNumber('REPLAY_SHARE', 0.05)

export const options = {
  scenarios: {
    steady: constantArrivalRate({ rate: 20, duration: '30s', exec: 'steady' }),
    probe: constantArrivalRate({
      envPrefix: 'PROBE_',
      rate: 1,
      duration: __ENV.DURATION || '30s',
      preAllocatedVUs: 4,
      maxVUs: 40,
      exec: 'probe',
    }),
  },
  thresholds: mergeThresholds(correctnessThresholds(), { notifications_done_ms: ['p(99)>=0'] }),
  setupTimeout: '120s',
  summaryTrendStats,
}

export function setup() {
  const tag = runTag('steady')
  return {
    tag,
    recipients: createRecipients(base, tag),
    probeRecipient: createRecipients(base, `${tag}p`, 1)[0],
  }
}

export function steady(data) {
  notifyMixed(base, data, replayShare)
}

export function probe(data) {
  const { id } = postNotification(
    base,
    {
      recipientId: data.probeRecipient,
      template: 'otp',
      data: { code: String(__ITER) },
      channels: ['sms'],
      category: 'probe',
      priority: 'critical',
    },
    `${data.tag}-probe-${__VU}-${__ITER}`,
    { probe: 'post' },
  )
  if (id === undefined) return
  check(waitDone(base, id, { kind: 'probe' }), {
    'probe: sent by SMS': (d) => d?.deliveries.every((x) => x.status === 'sent'),
  })
}

export const handleSummary = summaryHandler('notifications-steady')
