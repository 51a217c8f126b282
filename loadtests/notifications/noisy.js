// One noisy recipient: while quiet recipients get a notification now and then, one recipient gets
// NOISY_COUNT normal-priority notifications of one category in a few seconds (a loop in someone's
// code). Its per-recipient, per-category limit (the server's RATE_LIMIT_PER_RECIPIENT, default 20
// per hour) must suppress the excess — every one of them still accepted (202), each delivery
// `suppressed` with reason `rate_limited` — a critical one for it still goes out (critical
// bypasses the limit), and the others are unaffected: all their deliveries sent.
//
// The `verify` scenario starts after the load and reads the outcome back through the API: it
// re-POSTs every noisy and quiet request with its original Idempotency-Key (each must replay the
// same id — idempotency under load, checked) and polls each notification until done.
//
//   ./faultline up notifications
//   k6 run loadtests/notifications/noisy.js
//   k6 run -e NOISY_COUNT=200 -e RATE_LIMIT=20 loadtests/notifications/noisy.js
//
// Env: NOISY_COUNT (60), NOISY_VUS (4), QUIET_COUNT (40: one each for QUIET_COUNT recipients),
// RATE_LIMIT (20: must equal the server's RATE_LIMIT_PER_RECIPIENT), LOAD_SECONDS (30: the load's
// bound; verify starts then), DONE_TIMEOUT_MS (30000). The noisy recipient is new each run, so its
// window starts empty.

import { check } from 'k6'
import exec from 'k6/execution'
import { Counter } from 'k6/metrics'
import { envNumber } from '../lib/env.js'
import { baseUrl } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { mergeThresholds } from '../lib/thresholds.js'
import {
  correctnessThresholds,
  createRecipients,
  defaultBaseUrl,
  postNotification,
  runTag,
  waitDone,
} from './common.js'

const base = baseUrl(defaultBaseUrl)
const noisyCount = envNumber('NOISY_COUNT', 60)
const quietCount = envNumber('QUIET_COUNT', 40)
const rateLimit = envNumber('RATE_LIMIT', 20)
const loadSeconds = envNumber('LOAD_SECONDS', 30)
const doneTimeoutMs = envNumber('DONE_TIMEOUT_MS', 30000)
if (!(noisyCount > rateLimit && noisyCount <= 2000))
  throw new Error(`NOISY_COUNT=${noisyCount}: above RATE_LIMIT (${rateLimit}) and at most 2000`)
if (!(quietCount >= 1 && quietCount <= 2000)) throw new Error(`QUIET_COUNT=${quietCount}: 1 to 2000`)

/** The noisy recipient's deliveries by final status (sent / rate_limited / other), counted by verify. */
const noisyOutcome = new Counter('notifications_noisy_deliveries')
const quietOutcome = new Counter('notifications_quiet_deliveries')

export const options = {
  scenarios: {
    noisy: {
      executor: 'shared-iterations',
      vus: envNumber('NOISY_VUS', 4),
      iterations: noisyCount,
      maxDuration: `${loadSeconds}s`,
      exec: 'noisy',
      gracefulStop: '5s',
    },
    quiet: {
      executor: 'shared-iterations',
      vus: 2,
      iterations: quietCount,
      maxDuration: `${loadSeconds}s`,
      exec: 'quiet',
      gracefulStop: '5s',
    },
    verify: {
      executor: 'shared-iterations',
      vus: 1,
      iterations: 1,
      startTime: `${loadSeconds + 5}s`,
      maxDuration: '180s',
      exec: 'verify',
    },
  },
  thresholds: mergeThresholds(correctnessThresholds(envNumber('MIN_CHECK_RATE', 1)), {
    'notifications_noisy_deliveries{outcome:sent}': ['count>=0'],
    'notifications_noisy_deliveries{outcome:rate_limited}': ['count>=0'],
    'notifications_quiet_deliveries{outcome:sent}': ['count>=0'],
  }),
  setupTimeout: '120s',
  summaryTrendStats,
}

export function setup() {
  const tag = runTag('noisy')
  return {
    tag,
    noisy: createRecipients(base, `${tag}n`, 1)[0],
    quiet: createRecipients(base, `${tag}q`, quietCount),
  }
}

function noisyBody(data, i) {
  return {
    recipientId: data.noisy,
    template: 'welcome',
    data: { name: `N${i}` },
    channels: ['email', 'push'],
    category: 'digest',
    priority: 'normal',
  }
}

function quietBody(data, i) {
  return {
    recipientId: data.quiet[i],
    template: 'welcome',
    data: { name: `Q${i}` },
    channels: ['email', 'push'],
    category: 'digest',
    priority: 'normal',
  }
}

const criticalBody = (data) => ({
  recipientId: data.noisy,
  template: 'otp',
  data: { code: '000111' },
  channels: ['sms'],
  category: 'digest',
  priority: 'critical',
})

export function noisy(data) {
  const i = globalIndex()
  const { res } = postNotification(base, noisyBody(data, i), `${data.tag}-noisy-${i}`, { who: 'noisy' })
  check(res, { 'noisy: accepted (202) even past its limit': (r) => r.status === 202 })
}

export function quiet(data) {
  const i = globalIndex()
  const { res } = postNotification(base, quietBody(data, i), `${data.tag}-quiet-${i}`, { who: 'quiet' })
  check(res, { 'quiet: 202': (r) => r.status === 202 })
}

/** This iteration's index over the whole scenario (shared-iterations hands each out once). */
function globalIndex() {
  return exec.scenario.iterationInTest
}

/** Replays a request by its key (must be the same notification) and waits for it to be done. */
function replayAndWait(body, key, tags) {
  const { res, id } = postNotification(base, body, key, { ...tags, phase: 'verify' })
  check(res, {
    'verify: replay by key is 202 with Idempotent-Replay': (r) =>
      r.status === 202 && r.headers['Idempotent-Replay'] === 'true',
  })
  return id === undefined ? undefined : waitDone(base, id, tags, { timeoutMs: doneTimeoutMs })
}

export function verify(data) {
  const critical = postNotification(base, criticalBody(data), `${data.tag}-critical`, { who: 'noisy' })
  let noisySent = 0
  let noisyLimited = 0
  for (let i = 0; i < noisyCount; i++) {
    const done = replayAndWait(noisyBody(data, i), `${data.tag}-noisy-${i}`, { who: 'noisy' })
    for (const d of done?.deliveries ?? []) {
      const outcome = d.status === 'sent' ? 'sent' : d.reason === 'rate_limited' ? 'rate_limited' : d.status
      noisyOutcome.add(1, { outcome })
      if (outcome === 'sent') noisySent++
      if (outcome === 'rate_limited') noisyLimited++
    }
  }
  // One decision per notification: RATE_LIMIT notifications get through (both channels), the rest
  // are suppressed on both.
  check(noisySent, {
    'noisy: exactly RATE_LIMIT notifications sent (× 2 channels)': (n) => n === rateLimit * 2,
  })
  check(noisyLimited, {
    'noisy: the excess suppressed as rate_limited': (n) => n === (noisyCount - rateLimit) * 2,
  })
  const criticalDone =
    critical.id === undefined
      ? undefined
      : waitDone(base, critical.id, { who: 'noisy' }, { timeoutMs: doneTimeoutMs })
  check(criticalDone, {
    'noisy: a critical one still sent (bypasses the limit)': (d) =>
      d?.deliveries.every((x) => x.status === 'sent'),
  })
  let quietSent = 0
  for (let i = 0; i < quietCount; i++) {
    const done = replayAndWait(quietBody(data, i), `${data.tag}-quiet-${i}`, { who: 'quiet' })
    for (const d of done?.deliveries ?? []) {
      quietOutcome.add(1, { outcome: d.status === 'sent' ? 'sent' : d.reason || d.status })
      if (d.status === 'sent') quietSent++
    }
  }
  check(quietSent, {
    'quiet: every delivery sent (unaffected by the noisy one)': (n) => n === quietCount * 2,
  })
}

export const handleSummary = summaryHandler('notifications-noisy')
