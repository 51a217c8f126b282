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

import { stepRampScript } from '../lib/bench.js'
import { summaryHandler } from '../lib/summary.js'
import { kneeTraffic } from './knee-request.js'

// The ramp, its `knee` scenario, step tags, Zipf-skewed keys and thresholds: lib/bench.js.
const script = stepRampScript(kneeTraffic())

export const options = script.options
export default script.iteration

export const handleSummary = summaryHandler('ratelimiter-step-ramp')
