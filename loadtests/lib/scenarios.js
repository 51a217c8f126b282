// Builders for the shared k6 scenarios. Each returns one scenario object (or, for stepScenarios, a
// map of them) for `options.scenarios`; each is bounded in time. Every knob is resolved as
// __ENV (run time) > the option the script passes (the script's default) > the default here, so
// one script runs as a smoke test or as a real run without edits (`k6 run -e RATE=400 …`). A
// script with two scenarios of the same kind gives each an `envPrefix` (`READ_` reads READ_RATE,
// READ_DURATION …) so they can be tuned apart:
//
//   export const options = {
//     scenarios: { steady: constantArrivalRate({ rate: 200 }) },
//     thresholds: httpThresholds(),
//     summaryTrendStats,
//   }
//
// Arrival-rate executors (open model) are the default on purpose: the arrival rate does not drop
// when the system slows down, so overload shows up as latency, errors and `dropped_iterations`
// instead of being hidden by a closed loop of VUs waiting on slow responses.

import { assertBounded, durationSeconds, envNumber, envString } from './env.js'

export { baseUrl } from './env.js'

const defaultGracefulStop = '10s'

/** __ENV[prefix + name] if set, else the script's option, else the library default. */
function knob(options, name, option, fallback) {
  const key = `${options.envPrefix ?? ''}${name}`
  const value = typeof fallback === 'number' ? envNumber(key, undefined) : envString(key, undefined)
  if (value !== undefined) return value
  return option !== undefined ? option : fallback
}

function common(options) {
  const scenario = { gracefulStop: options.gracefulStop ?? defaultGracefulStop }
  if (options.exec !== undefined) scenario.exec = options.exec
  if (options.tags !== undefined) scenario.tags = options.tags
  if (options.startTime !== undefined) scenario.startTime = options.startTime
  if (options.env !== undefined) scenario.env = options.env
  return scenario
}

/** VUs to pre-allocate for `rate` iterations per second if each takes about `expectedLatencyMs`. */
function vusFor(rate, expectedLatencyMs = 100) {
  return Math.max(2, Math.ceil((rate * expectedLatencyMs) / 1000) * 2)
}

/**
 * A few iterations from one VU, to prove the script and the service work at all.
 * Env: ITERATIONS (default 10), VUS (1), MAX_DURATION (30s).
 */
export function smoke(options = {}) {
  const maxDuration = knob(options, 'MAX_DURATION', options.maxDuration, '30s')
  assertBounded('smoke', durationSeconds(maxDuration))
  return {
    executor: 'shared-iterations',
    vus: knob(options, 'VUS', options.vus, 1),
    iterations: knob(options, 'ITERATIONS', options.iterations, 10),
    maxDuration,
    ...common(options),
  }
}

/**
 * A steady open-model load: `rate` iterations per `timeUnit` for `duration`.
 * Env: RATE (default 50), DURATION (30s), VUS (pre-allocated), MAX_VUS.
 */
export function constantArrivalRate(options = {}) {
  const rate = knob(options, 'RATE', options.rate, 50)
  const duration = knob(options, 'DURATION', options.duration, '30s')
  assertBounded('constantArrivalRate', durationSeconds(duration))
  const preAllocatedVUs = knob(options, 'VUS', options.preAllocatedVUs, vusFor(rate))
  return {
    executor: 'constant-arrival-rate',
    rate,
    timeUnit: options.timeUnit ?? '1s',
    duration,
    preAllocatedVUs,
    maxVUs: knob(options, 'MAX_VUS', options.maxVUs, preAllocatedVUs * 4),
    ...common(options),
  }
}

function stepRates(startRate, step, steps) {
  const rates = []
  for (let i = 0; i < steps; i++) rates.push(startRate + i * step)
  return rates
}

/**
 * A staircase of arrival rates, to find the knee (the rate past which latency or errors climb):
 * `steps` plateaus of `stepDuration`, starting at `startRate` and rising by `step`, with a short
 * ramp (`rampDuration`) between plateaus. Watch it live in Grafana (k6 → Prometheus remote write),
 * or use stepScenarios for per-step numbers in the end-of-test summary.
 * Env: START_RATE (default 50), STEP (50), STEP_DURATION (30s), STEPS (6), MAX_VUS.
 */
export function stepRamp(options = {}) {
  const startRate = knob(options, 'START_RATE', options.startRate, 50)
  const step = knob(options, 'STEP', options.step, 50)
  const steps = knob(options, 'STEPS', options.steps, 6)
  const stepDuration = knob(options, 'STEP_DURATION', options.stepDuration, '30s')
  const rampDuration = options.rampDuration ?? '2s'
  const stepSeconds = durationSeconds(stepDuration)
  assertBounded('stepRamp', steps * (stepSeconds + durationSeconds(rampDuration)))
  const rates = stepRates(startRate, step, steps)
  const peak = rates[rates.length - 1]
  const stages = []
  for (const rate of rates) {
    stages.push({ target: rate, duration: rampDuration }, { target: rate, duration: stepDuration })
  }
  const preAllocatedVUs = knob(options, 'VUS', options.preAllocatedVUs, vusFor(startRate))
  return {
    executor: 'ramping-arrival-rate',
    startRate,
    timeUnit: options.timeUnit ?? '1s',
    preAllocatedVUs,
    maxVUs: knob(options, 'MAX_VUS', options.maxVUs, Math.max(preAllocatedVUs, vusFor(peak, 250))),
    stages,
    ...common(options),
  }
}

/**
 * The same staircase as stepRamp, as one constant-arrival-rate scenario per step (`step_01`,
 * `step_02` …, started one after another). k6 tags every sample with its scenario, so
 * `stepThresholds` (thresholds.js) makes the summary report latency and errors per step — the knee
 * is readable from the JSON summary alone.
 */
export function stepScenarios(options = {}) {
  const startRate = knob(options, 'START_RATE', options.startRate, 50)
  const step = knob(options, 'STEP', options.step, 50)
  const steps = knob(options, 'STEPS', options.steps, 6)
  const stepDuration = knob(options, 'STEP_DURATION', options.stepDuration, '30s')
  const stepSeconds = durationSeconds(stepDuration)
  // Each step gets its gracefulStop before the next starts, so steps never overlap.
  const gracefulStop = options.gracefulStop ?? '5s'
  const slotSeconds = stepSeconds + durationSeconds(gracefulStop)
  assertBounded('stepScenarios', steps * slotSeconds)
  const scenarios = {}
  stepRates(startRate, step, steps).forEach((rate, i) => {
    const preAllocatedVUs = options.preAllocatedVUs ?? vusFor(rate)
    scenarios[stepName(i)] = {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: options.timeUnit ?? '1s',
      duration: stepDuration,
      preAllocatedVUs,
      maxVUs: knob(options, 'MAX_VUS', options.maxVUs, vusFor(rate, 250)),
      ...common({ ...options, gracefulStop, startTime: `${i * slotSeconds}s` }),
      tags: { ...(options.tags ?? {}), rate: String(rate) },
    }
  })
  return scenarios
}

/** `step_01`, `step_02` …: the scenario names stepScenarios uses. */
export function stepName(index) {
  return `step_${String(index + 1).padStart(2, '0')}`
}

/**
 * Steady `baseRate`, a jump to `spikeRate`, then back to `baseRate` to watch recovery.
 * Env: BASE_RATE (default 50), SPIKE_RATE (500), BASE_DURATION (20s), SPIKE_DURATION (10s),
 * RECOVERY_DURATION (30s), MAX_VUS.
 */
export function spike(options = {}) {
  const baseRate = knob(options, 'BASE_RATE', options.baseRate, 50)
  const spikeRate = knob(options, 'SPIKE_RATE', options.spikeRate, 500)
  const baseDuration = knob(options, 'BASE_DURATION', options.baseDuration, '20s')
  const spikeDuration = knob(options, 'SPIKE_DURATION', options.spikeDuration, '10s')
  const recoveryDuration = knob(options, 'RECOVERY_DURATION', options.recoveryDuration, '30s')
  const rampDuration = options.rampDuration ?? '1s'
  assertBounded(
    'spike',
    durationSeconds(baseDuration) +
      durationSeconds(spikeDuration) +
      durationSeconds(recoveryDuration) +
      2 * durationSeconds(rampDuration),
  )
  const preAllocatedVUs = knob(options, 'VUS', options.preAllocatedVUs, vusFor(baseRate))
  return {
    executor: 'ramping-arrival-rate',
    startRate: baseRate,
    timeUnit: options.timeUnit ?? '1s',
    preAllocatedVUs,
    maxVUs: knob(options, 'MAX_VUS', options.maxVUs, Math.max(preAllocatedVUs, vusFor(spikeRate, 250))),
    stages: [
      { target: baseRate, duration: baseDuration },
      { target: spikeRate, duration: rampDuration },
      { target: spikeRate, duration: spikeDuration },
      { target: baseRate, duration: rampDuration },
      { target: baseRate, duration: recoveryDuration },
    ],
    ...common(options),
  }
}

/**
 * Picks the scenario set by name from __ENV.SCENARIO (default `defaultName`), so one script
 * carries several shapes: `k6 run -e SCENARIO=spike script.js`.
 */
/**
 * The closed model, for a maximum-throughput measurement only (everything else prefers arrival
 * rates, rightly): `vus` users in a loop for `duration`, each sending its next request when the
 * previous answered.
 */
export function constantVus(options) {
  assertBounded('constantVus', durationSeconds(options.duration))
  return {
    executor: 'constant-vus',
    vus: options.vus,
    duration: options.duration,
    gracefulStop: '5s',
    ...(options.startTime ? { startTime: options.startTime } : {}),
  }
}

/**
 * A benchmark's closed-model run: `warmup` (not counted), then `measure`, each `vus` users, as the
 * two scenarios the benchmarks read (`{scenario:measure}`).
 */
export function closedModelRun({ vus, warmup, duration }) {
  return {
    warmup: constantVus({ vus, duration: warmup }),
    measure: constantVus({ vus, duration, startTime: warmup }),
  }
}

/**
 * A benchmark's open-model run: `warmup` (not counted, ends without grace), then `measure`, each at
 * `rate` per second. Built here, not with constantArrivalRate, whose DURATION knob would also
 * stretch the warm-up.
 */
export function openModelRun({ rate, vus, maxVus, warmup, duration }) {
  const arrival = (extra) => {
    assertBounded('constantArrivalRate', durationSeconds(extra.duration))
    return {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      preAllocatedVUs: vus,
      maxVUs: maxVus,
      gracefulStop: '5s',
      ...extra,
    }
  }
  return {
    warmup: arrival({ duration: warmup, gracefulStop: '0s' }),
    measure: arrival({ duration, startTime: warmup }),
  }
}

export function selectScenario(builders, defaultName) {
  const name = envString('SCENARIO', defaultName)
  const build = builders[name]
  if (build === undefined) {
    throw new Error(`SCENARIO=${name} is not one of ${Object.keys(builders).join(', ')}`)
  }
  const built = build()
  return built.executor === undefined ? built : { [name]: built }
}
