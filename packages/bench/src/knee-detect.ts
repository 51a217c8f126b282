/**
 * The knee of a step ramp: the highest rate the system sustained within its latency and error
 * objectives before it stopped doing so. A step is *sustained* when all of these hold:
 *
 *   - p99 latency ≤ p99Ms (the objective: 10 ms);
 *   - error rate ≤ maxErrorRate;
 *   - goodput ≥ minAchievedRatio × the target rate: an open-model generator that could not
 *     deliver the load (dropped iterations, requests still in flight at the end) did not prove
 *     the system can take it.
 *
 * One failed step is not yet the knee: on a shared 2-core machine a GC pause or a neighbour can
 * spoil one step's p99 (a "blip"). The knee is the first failed step that is followed by another
 * failed step, or by nothing (the last step run, or k6 aborted). The maximum sustainable rate is
 * the best goodput among the sustained steps before it.
 */
import type { Window } from './saturation.ts'
import type { StepStats } from './steps.ts'

export interface KneeCriteria {
  p99Ms: number
  maxErrorRate: number
  minAchievedRatio: number
}

export const defaultKneeCriteria: KneeCriteria = { p99Ms: 10, maxErrorRate: 0.01, minAchievedRatio: 0.95 }

export interface StepVerdict {
  step: string
  ok: boolean
  /** Why the step was not sustained (empty when ok). */
  reasons: string[]
}

export interface KneeResult {
  criteria: KneeCriteria
  verdicts: StepVerdict[]
  /** Goodput of the best sustained step before the knee; null when even the first step failed. */
  maxSustainableRps: number | null
  /** That step. */
  lastGoodStep: string | null
  /** The first failed step confirmed by what followed it; null when no step failed for good. */
  kneeStep: string | null
  /** Failed steps followed by a sustained one: noted, not the knee. */
  blips: string[]
  /** Every step passed: the knee is above the highest rate tried (raise --max-rate). */
  kneeAboveRange: boolean
}

export function judgeStep(step: StepStats, criteria: KneeCriteria): StepVerdict {
  const reasons: string[] = []
  if (step.requests === 0) reasons.push('no requests')
  else {
    if (!(step.latency.p99Ms <= criteria.p99Ms)) {
      reasons.push(`p99 ${step.latency.p99Ms.toFixed(2)} ms > ${criteria.p99Ms} ms`)
    }
    if (step.errorRate > criteria.maxErrorRate) {
      reasons.push(
        `errors ${(step.errorRate * 100).toFixed(2)}% > ${(criteria.maxErrorRate * 100).toFixed(2)}%`,
      )
    }
    const ratio = step.achievedRps / step.targetRps
    if (ratio < criteria.minAchievedRatio) {
      reasons.push(
        `goodput ${step.achievedRps.toFixed(0)}/s < ${(criteria.minAchievedRatio * 100).toFixed(0)}% of ${step.targetRps}/s` +
          (step.dropped > 0 ? ` (${step.dropped} dropped)` : ''),
      )
    }
  }
  return { step: step.step, ok: reasons.length === 0, reasons }
}

/**
 * Steps that never started (k6 aborted, or the run was cut short) must be left out by the caller
 * or have `requests: 0`; trailing steps without requests are ignored.
 */
export function findKnee(
  steps: readonly StepStats[],
  criteria: KneeCriteria = defaultKneeCriteria,
): KneeResult {
  let run = steps.length
  while (run > 0 && (steps[run - 1] as StepStats).requests === 0) run--
  const ran = steps.slice(0, run)
  const verdicts = ran.map((s) => judgeStep(s, criteria))

  let kneeIndex = -1
  const blips: string[] = []
  for (let i = 0; i < verdicts.length; i++) {
    if ((verdicts[i] as StepVerdict).ok) continue
    const next = verdicts[i + 1]
    if (next === undefined || !next.ok) {
      kneeIndex = i
      break
    }
    blips.push((verdicts[i] as StepVerdict).step)
  }

  const before = kneeIndex === -1 ? ran.length : kneeIndex
  let best: StepStats | undefined
  for (let i = 0; i < before; i++) {
    const step = ran[i] as StepStats
    if ((verdicts[i] as StepVerdict).ok && (best === undefined || step.achievedRps > best.achievedRps))
      best = step
  }
  return {
    criteria,
    verdicts,
    maxSustainableRps: best?.achievedRps ?? null,
    lastGoodStep: best?.step ?? null,
    kneeStep: kneeIndex === -1 ? null : (ran[kneeIndex] as StepStats).step,
    blips,
    kneeAboveRange: kneeIndex === -1 && ran.length > 0,
  }
}

/** From the ramp into the last sustained step to the end of the knee step (see saturation.ts). */
export function kneeWindow(
  steps: readonly StepStats[],
  knee: KneeResult,
  rampSeconds: number,
  endedAtMs: number,
): Window {
  const ran = steps.filter((s) => s.requests > 0)
  const index = knee.kneeStep === null ? ran.length - 1 : ran.findIndex((s) => s.step === knee.kneeStep)
  const kneeStep = ran[index]
  const before = ran[Math.max(0, index - 1)]
  if (kneeStep === undefined || before === undefined) return { startMs: 0, endMs: endedAtMs }
  return {
    startMs: before.startMs - rampSeconds * 1000,
    endMs: Number.isFinite(kneeStep.endMs) ? kneeStep.endMs : endedAtMs,
  }
}
