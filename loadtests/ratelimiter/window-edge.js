// Ratelimiter, a burst at a window edge: the traffic that makes a fixed window admit twice its
// limit. Requests for one key arrive only in bursts of ±EDGE_MS around every other window
// boundary (multiples of 2 × WINDOW_MS since the epoch — where a fixed window's windows begin;
// the limiter reads Redis TIME and k6 reads the same machine's clock). The half before the edge
// finds the old window unused and takes its whole quota; the half after finds a fresh window and
// takes that too, so a fixed window admits 2 × LIMIT within 2 × EDGE_MS. Bursts are 2 windows
// apart, so each window sees only one half. An exact algorithm (sliding log, GCRA, token bucket)
// admits at most LIMIT in any WINDOW_MS, hence in any burst (2 × EDGE_MS < WINDOW_MS).
//
//   k6 run -e TARGET=gateway loadtests/ratelimiter/window-edge.js            # GATEWAY_LIMIT=100, WINDOW 1 s
//   k6 run -e LIMIT=50 -e WINDOW_MS=2000 -e DOMAIN=edge loadtests/ratelimiter/window-edge.js
//
// LIMIT and WINDOW_MS must be the rule the target enforces (the gateway's GATEWAY_LIMIT and
// GATEWAY_WINDOW_MS; the decision service's rule for DOMAIN/DESCRIPTOR_KEY). The summary's
// `ratelimit.edge` gives admitted per burst (before and after the edge) and `maxBurstRatio`:
// the most admitted in one burst ÷ LIMIT — 2.00 for a fixed window, ≤ 1.00 for an exact one.
//
// Env: LIMIT (100), WINDOW_MS (1000), EDGE_MS (100, < WINDOW_MS / 2), RATE (2000/s while
// bursting: 2 × EDGE_MS × RATE must exceed 2 × LIMIT), DURATION (20s), KEY (default a fresh
// `edge-<time>` per run), the target knobs of common.js.

import exec from 'k6/execution'
import { durationSeconds, envNumber, envString } from '../lib/env.js'
import { constantArrivalRate } from '../lib/scenarios.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { httpThresholds, mergeThresholds } from '../lib/thresholds.js'
import { limitedRequest, summaryWithAdmission, target } from './common.js'

const t = target()
const limit = envNumber('LIMIT', 100)
const windowMs = envNumber('WINDOW_MS', 1000)
const edgeMs = envNumber('EDGE_MS', 100)
const rate = envNumber('RATE', 2000)
const duration = envString('DURATION', '20s')
const periodMs = 2 * windowMs
if (!(edgeMs > 0 && edgeMs < windowMs / 2)) throw new Error(`EDGE_MS=${edgeMs} must be in (0, WINDOW_MS / 2)`)
if (2 * edgeMs * rate < 2000 * limit) {
  throw new Error(
    `RATE=${rate} sends ${(2 * edgeMs * rate) / 1000} per burst: fewer than 2 × LIMIT, no edge burst`,
  )
}

// Every burst gets its own tag (b00, b01 …) and a threshold, so the summary has per-burst counts.
const maxBursts = Math.ceil((durationSeconds(duration) * 1000) / periodMs) + 1
const burstNames = Array.from({ length: maxBursts }, (_, i) => `b${String(i).padStart(2, '0')}`)
const burstThresholds = {}
for (const b of burstNames) burstThresholds[`ratelimit_admitted{burst:${b}}`] = ['count>=0']
for (const side of ['before', 'after']) burstThresholds[`ratelimit_admitted{side:${side}}`] = ['count>=0']

export const options = {
  scenarios: {
    edge: constantArrivalRate({
      rate,
      duration,
      // Only 2 × EDGE_MS of every 2 × WINDOW_MS sends anything; the rest are empty iterations.
      preAllocatedVUs: Math.max(20, Math.ceil(rate / 20)),
      maxVUs: Math.max(100, Math.ceil(rate / 2)),
      gracefulStop: '2s',
    }),
  },
  thresholds: mergeThresholds(httpThresholds({ p99Ms: 100 }), burstThresholds),
  summaryTrendStats,
}

/** A fresh key per run, so a window left over from an earlier run admits nothing early. */
export function setup() {
  return { key: envString('KEY', `edge-${Date.now()}`) }
}

export default function (data) {
  const now = Date.now()
  const startMs = exec.scenario.startTime
  const endMs = startMs + durationSeconds(duration) * 1000
  // The nearest edge; only complete bursts inside the run count.
  const edge = Math.round(now / periodMs) * periodMs
  if (Math.abs(now - edge) >= edgeMs) return
  if (edge - edgeMs < startMs || edge + edgeMs > endMs - 200) return
  const firstEdge = Math.ceil((startMs + edgeMs) / periodMs) * periodMs
  const burst = burstNames[Math.round((edge - firstEdge) / periodMs)]
  if (burst === undefined) return
  limitedRequest(t, data.key, { side: now < edge ? 'before' : 'after', burst })
}

function edgeSection(data) {
  const perBurst = {}
  for (const b of burstNames) {
    const m = data.metrics[`ratelimit_admitted{burst:${b}}`]
    if (m && m.values.count > 0) perBurst[b] = m.values.count
  }
  const counts = Object.values(perBurst)
  const count = (name) => data.metrics[name]?.values.count ?? 0
  return {
    edge: {
      limit,
      windowMs,
      edgeMs,
      bursts: counts.length,
      admittedBefore: count('ratelimit_admitted{side:before}'),
      admittedAfter: count('ratelimit_admitted{side:after}'),
      perBurst,
      maxBurstRatio: counts.length > 0 ? Math.max(...counts) / limit : null,
    },
  }
}

export const handleSummary = summaryWithAdmission(summaryHandler, 'ratelimiter-window-edge', edgeSection)
