// Feed step ramp: timeline reads (the first page of a warm home timeline) in plateaus of rising
// arrival rate, to find the read knee — the highest rate the API sustains before p99 or errors
// climb. The knee finder runs it (`node packages/bench/src/knee.ts --system feed`,
// services/feed/src/bench-target.ts), which also names the component that saturated first; it runs
// alone too, against `./faultline up feed`.
//
// One ramping-arrival-rate scenario (`knee`, the shared stepRamp): STEPS plateaus of STEP_DURATION
// from START_RATE rising by STEP, RAMP_DURATION ramps between them, the load never pausing. Every
// request is tagged with its step (`step=03` on the third plateau, `step=ramp-03` on the ramp into
// it): per-step p99, errors and counts are in k6's CSV (what the knee finder reads) and in the
// summary (observe-only thresholds on `{step:NN}`).
//
//   k6 run loadtests/feed/step-ramp.js                                  # BASE_URL=http://127.0.0.1:18100
//   k6 run -e START_RATE=200 -e STEP=200 -e STEPS=8 -e STEP_DURATION=6s -e CODES_FILE=/abs/users.json loadtests/feed/step-ramp.js
//   k6 run -e BASE_URL=http://127.0.0.1:3310 -e TARGET_PATH=/ loadtests/feed/step-ramp.js   # the bare Fastify baseline
//
// Env: START_RATE (200), STEP (200), STEPS (10), STEP_DURATION (10s), RAMP_DURATION (1s), VUS (50),
// MAX_VUS (500), ABORT_P99_MS (unset: never abort), ZIPF_S (1.0; 0 is uniform: which users read
// most), and the request's TARGET_PATH, CODES_FILE / USERS_FILE, EXPECT_STATUS (knee-request.js).

import { stepRampScript } from '../lib/bench.js'
import { summaryHandler } from '../lib/summary.js'
import { kneeTraffic } from './knee-request.js'

// The ramp, its `knee` scenario, step tags, Zipf-skewed keys and thresholds: lib/bench.js.
const script = stepRampScript(kneeTraffic())

export const options = script.options
export const setup = script.setup
export default script.iteration

export const handleSummary = summaryHandler('feed-step-ramp')
