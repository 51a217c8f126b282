// Decision-service step ramp: full decisions (POST /v1/decide, every one admitted) in plateaus of
// rising arrival rate, to find the knee — the highest rate the service sustains before p99 latency
// or errors climb. The knee finder runs it (`node packages/bench/src/knee.ts --system ratelimiter`,
// services/ratelimiter/src/bench-target.ts); it runs alone too against a decision service started
// with RULES_FILE=services/ratelimiter/bench/rules-bench.yaml.
//
// One ramping-arrival-rate scenario (`knee`, the shared stepRamp builder): STEPS plateaus of
// STEP_DURATION starting at START_RATE and rising by STEP, with RAMP_DURATION ramps between them;
// the load never pauses between steps. Every request is tagged with its step, `step=03` on the
// third plateau and `step=ramp-03` on the ramp into it: the knee finder reads per-step p99, errors
// and counts from k6's CSV (packages/bench/src/steps.ts), and the summary has them too
// (observe-only thresholds on `{step:NN}`).
//
//   k6 run -e BASE_URL=http://127.0.0.1:3320 loadtests/ratelimiter/step-ramp.js
//   k6 run -e START_RATE=500 -e STEP=500 -e STEPS=8 -e STEP_DURATION=6s -e CODES_FILE=/abs/keys.json loadtests/ratelimiter/step-ramp.js
//   k6 run -e BASE_URL=http://127.0.0.1:3310 -e TARGET_PATH=/ loadtests/ratelimiter/step-ramp.js   # the bare Fastify baseline
//
// Env: START_RATE (200), STEP (200), STEPS (10), STEP_DURATION (10s), RAMP_DURATION (1s), VUS (50),
// MAX_VUS (500), ABORT_P99_MS (unset: never abort), ZIPF_S (1.0; 0 is uniform), and the request's
// TARGET_PATH, CODES_FILE, KEYS, DOMAIN, EXPECT_STATUS (knee-request.js). Keys are picked
// Zipf-skewed, as tenants are: a few busy, a long quiet tail.

import exec from 'k6/execution'
import { envNumber, envString } from '../lib/env.js'
import { baseUrl, stepRamp } from '../lib/scenarios.js'
import { perStepThresholds, stepCount, stepTagger } from '../lib/steps.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { httpThresholds, mergeThresholds } from '../lib/thresholds.js'
import { zipf } from '../lib/zipf.js'
import { kneeKeys, kneeRequest } from './knee-request.js'

const base = baseUrl('http://127.0.0.1:3320')
const request = kneeRequest()
const keys = request.needsKeys ? kneeKeys() : []

const knee = stepRamp({
  startRate: 200,
  step: 200,
  steps: 10,
  stepDuration: '10s',
  rampDuration: envString('RAMP_DURATION', '1s'),
  preAllocatedVUs: 50,
  maxVUs: 500,
})

const stepTag = stepTagger(knee)

export const options = {
  scenarios: { knee },
  // Loose on purpose: the ramp is expected to pass the knee; the knee finder judges each step.
  thresholds: mergeThresholds(
    httpThresholds({
      p99Ms: envNumber('OVERALL_P99_MS', 1000),
      maxErrorRate: envNumber('MAX_ERROR_RATE', 0.05),
    }),
    perStepThresholds(stepCount(knee)),
  ),
  discardResponseBodies: true,
  summaryTrendStats,
}

let sampler

export default function () {
  const step = stepTag((Date.now() - exec.scenario.startTime) / 1000)
  if (!request.needsKeys) {
    request.send(base, '', { step })
    return
  }
  // One sampler per VU, seeded with SEED + VU id (zipf.js).
  sampler ??= zipf({ n: keys.length, s: envNumber('ZIPF_S', 1.0) })
  request.send(base, keys[sampler.nextIndex()], { step })
}

export const handleSummary = summaryHandler('ratelimiter-step-ramp')
