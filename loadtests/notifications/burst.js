// Notifications burst: the steady mix at BASE_RATE, a jump to SPIKE_RATE for SPIKE_DURATION (a
// campaign, a batch job), then back to BASE_RATE while the pipeline drains the backlog. Does the
// API keep accepting (202, never a 5xx) while relay, router and workers fall behind, and does the
// probe's accepted → done recover (notifications_done_ms tagged phase=base|spike|recovery;
// observe-only)? The thresholds are correctness only.
//
//   ./faultline up notifications
//   k6 run loadtests/notifications/burst.js
//   k6 run -e SPIKE_RATE=300 -e SPIKE_DURATION=15s loadtests/notifications/burst.js
//
// Env: BASE_RATE (10/s), SPIKE_RATE (150/s), BASE_DURATION (10s), SPIKE_DURATION (10s),
// RECOVERY_DURATION (30s), RECIPIENTS (500: a burst over many recipients, under their limits),
// PROBE_RATE (1/s).

import { check } from 'k6'
import exec from 'k6/execution'
import { durationSeconds, envNumber, envString } from '../lib/env.js'
import { baseUrl, constantArrivalRate, spike } from '../lib/scenarios.js'
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
const baseSeconds = durationSeconds(envString('BASE_DURATION', '10s'))
const spikeSeconds = durationSeconds(envString('SPIKE_DURATION', '10s'))
const totalSeconds = baseSeconds + spikeSeconds + durationSeconds(envString('RECOVERY_DURATION', '30s')) + 2

export const options = {
  scenarios: {
    burst: spike({
      baseRate: 10,
      spikeRate: 150,
      baseDuration: '10s',
      spikeDuration: '10s',
      recoveryDuration: '30s',
      exec: 'burst',
    }),
    probe: constantArrivalRate({
      envPrefix: 'PROBE_',
      rate: 1,
      duration: `${totalSeconds}s`,
      preAllocatedVUs: 4,
      maxVUs: 60,
      exec: 'probe',
    }),
  },
  thresholds: mergeThresholds(correctnessThresholds(), {
    'notifications_done_ms{phase:base}': ['p(99)>=0'],
    'notifications_done_ms{phase:spike}': ['p(99)>=0'],
    'notifications_done_ms{phase:recovery}': ['p(99)>=0'],
  }),
  setupTimeout: '180s',
  summaryTrendStats,
}

export function setup() {
  const tag = runTag('burst')
  return {
    tag,
    recipients: createRecipients(base, tag, envNumber('RECIPIENTS', 500)),
    probeRecipient: createRecipients(base, `${tag}p`, 1)[0],
  }
}

export function burst(data) {
  notifyMixed(base, data, 0.05)
}

/** The burst's phase now: both scenarios start together, so the probe's start is the burst's. */
function phase() {
  const s = (Date.now() - exec.scenario.startTime) / 1000
  if (s < baseSeconds) return 'base'
  if (s < baseSeconds + spikeSeconds + 1) return 'spike'
  return 'recovery'
}

export function probe(data) {
  const tags = { phase: phase() }
  const { id } = postNotification(
    base,
    {
      recipientId: data.probeRecipient,
      template: 'welcome',
      data: { name: 'Probe' },
      channels: ['email'],
      category: 'probe',
      priority: 'critical',
    },
    `${data.tag}-probe-${__VU}-${__ITER}`,
    { probe: 'post', ...tags },
  )
  if (id === undefined) return
  check(waitDone(base, id, tags, { timeoutMs: 60000 }), {
    'probe: sent by email': (d) => d?.deliveries.every((x) => x.status === 'sent'),
  })
}

export const handleSummary = summaryHandler('notifications-burst')
