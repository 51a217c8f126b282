// The step ramp's bookkeeping shared by every system's step-ramp.js: which step a request belongs
// to (its `step` tag), and the observe-only per-step thresholds that make k6 report each step.
// The knee finder (`node packages/bench/src/knee.ts`) reads both.

import { durationSeconds, envNumber } from './env.js'

/** How many plateaus a `stepRamp` scenario has (its stages alternate ramp, plateau). */
export function stepCount(knee) {
  return knee.stages.length / 2
}

/**
 * `(secondsSinceStart) => tag`: `01` … on a plateau, `ramp-01` … on the ramp into it, by time
 * since the scenario started.
 */
export function stepTagger(knee) {
  // Stage i ends at stageEnds[i] seconds after the scenario start.
  const stageEnds = []
  let elapsedSeconds = 0
  for (const stage of knee.stages) {
    elapsedSeconds += durationSeconds(stage.duration)
    stageEnds.push(elapsedSeconds)
  }
  return (secondsSinceStart) => {
    let i = 0
    while (i < stageEnds.length - 1 && secondsSinceStart >= stageEnds[i]) i++
    const step = String(Math.floor(i / 2) + 1).padStart(2, '0')
    return i % 2 === 0 ? `ramp-${step}` : step
  }
}

/**
 * Observe-only (a knee run is meant to go past the knee): they make k6 report every step. With
 * ABORT_P99_MS, a plateau whose p99 passes it ends the run: far past the knee, more steps only
 * pile up VUs and teach nothing.
 */
export function perStepThresholds(steps) {
  const abortP99Ms = envNumber('ABORT_P99_MS', undefined)
  const thresholds = {}
  for (let i = 1; i <= steps; i++) {
    const step = String(i).padStart(2, '0')
    thresholds[`http_req_duration{step:${step}}`] =
      abortP99Ms === undefined
        ? ['p(99)>=0']
        : ['p(99)>=0', { threshold: `p(99)<${abortP99Ms}`, abortOnFail: true, delayAbortEval: '2s' }]
    thresholds[`http_req_failed{step:${step}}`] = ['rate>=0']
    thresholds[`http_reqs{step:${step}}`] = ['count>=0']
  }
  return thresholds
}
