/**
 * Per-step and per-second numbers of a step-ramp run, from k6's request samples. step-ramp.js
 * tags each request with the plateau it started in (`step=03`) or the ramp into it
 * (`step=ramp-03`); only plateau requests count towards a step, so the ramps never blur a step's
 * rate or latency.
 */

import { type LatencySummary, summarizeLatency } from '@faultline/measure'
import type { K6Sample } from './k6-csv.ts'

export interface StepPlan {
  /** `01`, `02` …: the tag step-ramp.js puts on the plateau's requests. */
  step: string
  targetRps: number
  holdSeconds: number
}

/** The staircase startRate, startRate + step, … up to maxRate (inclusive), at most maxSteps. */
export function planSteps(options: {
  startRate: number
  step: number
  maxRate: number
  holdSeconds: number
  maxSteps?: number
}): StepPlan[] {
  const { startRate, step, maxRate, holdSeconds } = options
  if (!(startRate > 0) || !(step > 0) || !(maxRate >= startRate)) {
    throw new RangeError(`bad step plan: start ${startRate}, step ${step}, max ${maxRate}`)
  }
  const count = Math.min(Math.floor((maxRate - startRate) / step) + 1, options.maxSteps ?? 100)
  return Array.from({ length: count }, (_, i) => ({
    step: stepName(i),
    targetRps: startRate + i * step,
    holdSeconds,
  }))
}

export function stepName(index: number): string {
  return String(index + 1).padStart(2, '0')
}

export interface StepStats extends StepPlan {
  /** Requests started on the plateau. */
  requests: number
  /** Requests k6 counted as failed (unexpected status, timeout, connection error). */
  failures: number
  errorRate: number
  /** Goodput on the plateau: successful requests / holdSeconds. */
  achievedRps: number
  /** Iterations k6 could not start on the plateau (no free VU): offered but never sent. */
  dropped: number
  /** Epoch ms: first request start and last request end on the plateau (NaN when none). */
  startMs: number
  endMs: number
  latency: LatencySummary
}

export interface SecondStats {
  /** Epoch second (floor of the request's end time). */
  second: number
  requests: number
  failures: number
  p50Ms: number
  p99Ms: number
  dropped: number
}

interface StepBucket {
  durations: number[]
  failures: number
  startMs: number
  endMs: number
}

interface SecondBucket {
  durations: number[]
  failures: number
  dropped: number
}

/** A request failed when k6 says so (`expected_response`), else when it had no 2xx/3xx status. */
export function isFailure(tags: Record<string, string>): boolean {
  if (tags.expected_response !== undefined) return tags.expected_response !== 'true'
  const status = Number(tags.status ?? 0)
  return !(status >= 200 && status < 400)
}

/** Feed it samples (`http_req_duration`, `dropped_iterations`) in any order, then read the steps. */
export class StepAggregator {
  readonly #steps = new Map<string, StepBucket>()
  readonly #seconds = new Map<number, SecondBucket>()
  readonly #droppedAtMs: number[] = []
  #requests = 0

  get requests(): number {
    return this.#requests
  }

  add(sample: K6Sample): void {
    if (sample.metric === 'dropped_iterations') {
      for (let i = 0; i < Math.max(1, Math.round(sample.value)); i++) this.#droppedAtMs.push(sample.timeMs)
      this.#second(sample.timeMs).dropped += Math.max(1, Math.round(sample.value))
      return
    }
    if (sample.metric !== 'http_req_duration') return
    this.#requests++
    const failed = isFailure(sample.tags)
    const second = this.#second(sample.timeMs)
    second.durations.push(sample.value)
    if (failed) second.failures++
    const step = sample.tags.step
    if (step === undefined || step.startsWith('ramp')) return
    let bucket = this.#steps.get(step)
    if (bucket === undefined) {
      bucket = {
        durations: [],
        failures: 0,
        startMs: Number.POSITIVE_INFINITY,
        endMs: Number.NEGATIVE_INFINITY,
      }
      this.#steps.set(step, bucket)
    }
    bucket.durations.push(sample.value)
    if (failed) bucket.failures++
    bucket.startMs = Math.min(bucket.startMs, sample.timeMs - sample.value)
    bucket.endMs = Math.max(bucket.endMs, sample.timeMs)
  }

  #second(timeMs: number): SecondBucket {
    const key = Math.floor(timeMs / 1000)
    let bucket = this.#seconds.get(key)
    if (bucket === undefined) {
      bucket = { durations: [], failures: 0, dropped: 0 }
      this.#seconds.set(key, bucket)
    }
    return bucket
  }

  /** One entry per planned step, in plan order; a step with no requests has requests 0. */
  steps(plan: readonly StepPlan[]): StepStats[] {
    return plan.map((p) => {
      const bucket = this.#steps.get(p.step)
      const requests = bucket?.durations.length ?? 0
      const failures = bucket?.failures ?? 0
      const startMs = bucket && requests > 0 ? bucket.startMs : Number.NaN
      const endMs = bucket && requests > 0 ? bucket.endMs : Number.NaN
      // A dropped iteration has no step tag: it belongs to the plateau it happened in.
      const dropped = requests > 0 ? this.#droppedAtMs.filter((t) => t >= startMs && t <= endMs).length : 0
      return {
        ...p,
        requests,
        failures,
        errorRate: requests > 0 ? failures / requests : 0,
        achievedRps: (requests - failures) / p.holdSeconds,
        dropped,
        startMs,
        endMs,
        latency: summarizeLatency(bucket?.durations ?? []),
      }
    })
  }

  perSecond(): SecondStats[] {
    return [...this.#seconds.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([second, b]) => {
        const latency = summarizeLatency(b.durations)
        return {
          second,
          requests: b.durations.length,
          failures: b.failures,
          p50Ms: latency.p50Ms,
          p99Ms: latency.p99Ms,
          dropped: b.dropped,
        }
      })
  }

  /** Dropped iterations per epoch second (for the saturation signals). */
  droppedBySecond(): Map<number, number> {
    const out = new Map<number, number>()
    for (const [second, b] of this.#seconds) if (b.dropped > 0) out.set(second, b.dropped)
    return out
  }

  /** Dropped iterations over the whole run, ramps included. */
  droppedTotal(): number {
    return this.#droppedAtMs.length
  }
}
