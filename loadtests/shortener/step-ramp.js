// Shortener step ramp: redirect-only load in plateaus of rising arrival rate, to find the knee —
// the highest rate the service sustains before p99 latency or errors climb. One ramping-arrival-
// rate scenario (`knee`, built by the shared stepRamp): STEPS plateaus of STEP_DURATION starting
// at START_RATE and rising by STEP, with RAMP_DURATION ramps between them. The load never pauses
// between steps, so whatever accumulates (a queue, a spool, a pool wait list) keeps accumulating.
//
// Every request is tagged with its step: `step=03` on the third plateau, `step=ramp-03` on the
// ramp into it. Per-step p99, error rate and count are then in the summary (observe-only
// thresholds on `{step:NN}`) and in k6's CSV/JSON output, which the knee finder
// (`node packages/bench/src/knee.ts`) reads to find the knee and lines up with its metric samples.
//
//   k6 run loadtests/shortener/step-ramp.js
//   k6 run -e START_RATE=500 -e STEP=500 -e STEPS=8 -e STEP_DURATION=10s -e CODES_FILE=/abs/codes.json loadtests/shortener/step-ramp.js
//   k6 run -e BASE_URL=http://127.0.0.1:3100 -e TARGET_PATH=/ loadtests/shortener/step-ramp.js   # any server: a baseline
//
// Env: START_RATE (200), STEP (200), STEPS (10), STEP_DURATION (10s), RAMP_DURATION (1s), VUS (50),
// MAX_VUS (500), ABORT_P99_MS (unset: never abort), TARGET_PATH, CODES_FILE, KEYS, ZIPF_S, EXPECT_STATUS.
//
// Codes: CODES_FILE (a JSON array of codes, already warm), else setup() creates KEYS links
// (default 1000) and GETs each once so the ramp reads a warm cache. Codes are picked Zipf-skewed
// (ZIPF_S, default 1.0; 0 is uniform). No check() per request: at thousands of requests per
// second it would cost the generator CPU; a wrong status counts as a failed request instead
// (EXPECT_STATUS, see common.js).

import { stepRampScript } from '../lib/bench.js'
import { summaryHandler } from '../lib/summary.js'
import { benchTraffic } from './common.js'

// The ramp, its `knee` scenario, step tags, Zipf-skewed keys and thresholds: lib/bench.js.
const script = stepRampScript(benchTraffic(1000))

export const options = script.options
export const setup = script.setup
export default script.iteration

export const handleSummary = summaryHandler('shortener-step-ramp')
