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

import exec from 'k6/execution'
import { envNumber, envString } from '../lib/env.js'
import { baseUrl, stepRamp } from '../lib/scenarios.js'
import { perStepThresholds, stepCount, stepTagger } from '../lib/steps.js'
import { summaryHandler, summaryTrendStats } from '../lib/summary.js'
import { httpThresholds, mergeThresholds } from '../lib/thresholds.js'
import { zipf } from '../lib/zipf.js'
import { codesFromFile, createCodes, target, warmCodes } from './common.js'

const base = baseUrl('http://127.0.0.1:3000')
const request = target()
const fileCodes = codesFromFile()

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
  // The overall p99 gate is loose on purpose: the ramp is expected to pass the knee; the knee
  // finder judges each step against P99_MS itself.
  thresholds: mergeThresholds(
    httpThresholds({
      p99Ms: envNumber('OVERALL_P99_MS', 1000),
      maxErrorRate: envNumber('MAX_ERROR_RATE', 0.05),
    }),
    perStepThresholds(stepCount(knee)),
  ),
  maxRedirects: 0,
  discardResponseBodies: true,
  setupTimeout: '120s',
  summaryTrendStats,
}

export function setup() {
  if (!request.needsCodes || fileCodes.length > 0) return { codes: [] }
  const codes = createCodes(base)
  warmCodes(base, codes)
  return { codes }
}

let sampler

export default function (data) {
  const step = stepTag((Date.now() - exec.scenario.startTime) / 1000)
  if (!request.needsCodes) {
    request.get(base, '', { step })
    return
  }
  const codes = fileCodes.length > 0 ? fileCodes : data.codes
  sampler ??= zipf({ n: codes.length, s: envNumber('ZIPF_S', 1.0) })
  request.get(base, codes[sampler.nextIndex()], { step })
}

export const handleSummary = summaryHandler('shortener-step-ramp')
