// The two scripts the bench runs for every system (BenchTarget.scripts in packages/bench/src/
// target.ts): the knee finder's step ramp and the benchmark's closed/open-model run against bare
// Fastify. A system describes its traffic once (its request, where its keys come from, its
// setup()) and both of its scripts are that traffic through one of these builders. What the bench
// reads stays the same for every system: the `knee` scenario and its `step` tags, the
// `warmup`/`measure` scenarios, the env names and the observe-only thresholds.
//
//   // a system's knee-request.js (init context: it may open CODES_FILE)
//   export function kneeTraffic() {
//     return {
//       needsKeys: request.needsCodes,                // false for a path without {code} (`/`)
//       keys: (data) => (fileCodes.length > 0 ? fileCodes : data.codes),
//       send: (key, tags) => request.get(base, key, tags),
//       setup: () => ({ codes: createCodes(base) }),  // optional
//       options: { setupTimeout: '120s' },            // optional: extra k6 options
//     }
//   }
//
//   // its step-ramp.js
//   const script = stepRampScript(kneeTraffic())
//   export const options = script.options
//   export const setup = script.setup
//   export default script.iteration
//   export const handleSummary = summaryHandler('<system>-step-ramp')
//
// `send(key, tags)` is one request; key is '' when `needsKeys` is false. `keys(data)` gets what
// setup() returned. No check() per request in either script: at thousands of requests per second
// it would cost the generator CPU; a wrong status counts in http_req_failed instead (the request's
// responseCallback).

import exec from 'k6/execution'
import { envNumber, envString } from './env.js'
import { closedModelRun, openModelRun, selectScenario, stepRamp } from './scenarios.js'
import { perStepThresholds, stepCount, stepTagger } from './steps.js'
import { summaryTrendStats } from './summary.js'
import { httpThresholds, mergeThresholds, scenarioThresholds } from './thresholds.js'
import { zipf } from './zipf.js'

/**
 * The knee's step ramp: one ramping-arrival-rate scenario (`knee`, the shared stepRamp): STEPS
 * plateaus of STEP_DURATION from START_RATE rising by STEP, RAMP_DURATION ramps between them, the
 * load never pausing. Every request is tagged with its step (`step=03` on the third plateau,
 * `step=ramp-03` on the ramp into it), which the knee finder reads from k6's CSV; keys are picked
 * Zipf-skewed (ZIPF_S, default 1.0; 0 is uniform).
 * Env: START_RATE (200), STEP (200), STEPS (10), STEP_DURATION (10s), RAMP_DURATION (1s), VUS (50),
 * MAX_VUS (500), ABORT_P99_MS (unset: never abort), OVERALL_P99_MS (1000), MAX_ERROR_RATE (0.05).
 */
export function stepRampScript({ needsKeys, keys, send, setup, options = {} }) {
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
  let sampler
  return {
    options: {
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
      ...options,
    },
    setup,
    iteration(data) {
      const step = stepTag((Date.now() - exec.scenario.startTime) / 1000)
      if (!needsKeys) {
        send('', { step })
        return
      }
      const all = keys(data)
      // One sampler per VU (lazily: the keys may come from setup()), seeded with SEED + VU id.
      sampler ??= zipf({ n: all.length, s: envNumber('ZIPF_S', 1.0) })
      send(all[sampler.nextIndex()], { step })
    },
  }
}

/**
 * The benchmark's run of one request, the same for the system and for bare Fastify:
 *   SCENARIO=max   closed model: VUS virtual users (default 32), each sending its next request as
 *                  soon as the previous answered, for DURATION (15s) after WARMUP (3s, not counted).
 *   SCENARIO=rate  open model: RATE/s (default 1000; VUS 64, MAX_VUS 512) for DURATION after the
 *                  same warm-up at that rate.
 * Keys are visited round robin, every VU from its own offset, so each request is an ordinary warm
 * one, not always the same key. Env also: P99_MS (1000, on `measure`), OVERALL_P99_MS (1000).
 */
export function throughputScript({ needsKeys, keys, send, setup, options = {} }) {
  const duration = envString('DURATION', '15s')
  const warmup = envString('WARMUP', '3s')
  const max = () => closedModelRun({ vus: envNumber('VUS', 32), warmup, duration })
  const rate = () =>
    openModelRun({
      rate: envNumber('RATE', 1000),
      vus: envNumber('VUS', 64),
      maxVus: envNumber('MAX_VUS', 512),
      warmup,
      duration,
    })
  let next = -1
  return {
    options: {
      scenarios: selectScenario({ max, rate }, 'max'),
      thresholds: mergeThresholds(
        // Observe-only on `measure` (the benchmark judges the numbers), so the summary has its own
        // count and percentiles without the warm-up.
        scenarioThresholds('measure', { p99Ms: envNumber('P99_MS', 1000), maxErrorRate: 0.01 }),
        { 'http_reqs{scenario:measure}': ['count>=0'], 'dropped_iterations{scenario:measure}': ['count>=0'] },
        httpThresholds({ p99Ms: envNumber('OVERALL_P99_MS', 1000) }),
      ),
      discardResponseBodies: true,
      summaryTrendStats,
      ...options,
    },
    setup,
    iteration(data) {
      if (!needsKeys) {
        send('', {})
        return
      }
      const all = keys(data)
      if (next < 0) next = (exec.vu.idInTest * 7919) % all.length
      next = (next + 1) % all.length
      send(all[next], {})
    },
  }
}
