import assert from 'node:assert/strict'
import { test } from 'node:test'
import { summarizeLatency } from '@faultline/measure'
import { defaultKneeCriteria, findKnee, judgeStep, kneeWindow } from '../src/knee-detect.ts'
import type { StepStats } from '../src/steps.ts'

/** A synthetic step: `target` offered, `goodput` delivered, latencies with the given p99. */
function step(
  index: number,
  target: number,
  p99Ms: number,
  options: { goodput?: number; errorRate?: number } = {},
) {
  const requests = 1000
  const latencies = Array.from({ length: requests }, (_, i) => (i >= 990 ? p99Ms * 1.01 : 1))
  const latency = summarizeLatency(latencies)
  // Make the p99 exactly what was asked for (the R-7 interpolation lands between 1 and p99 × 1.01).
  latency.p99Ms = p99Ms
  const startMs = 1_000_000 + index * 7000
  return {
    step: String(index + 1).padStart(2, '0'),
    targetRps: target,
    holdSeconds: 6,
    requests,
    failures: Math.round((options.errorRate ?? 0) * requests),
    errorRate: options.errorRate ?? 0,
    achievedRps: options.goodput ?? target,
    dropped: 0,
    startMs,
    endMs: startMs + 6000,
    latency,
  } satisfies StepStats
}

test('a step is sustained only within p99, error rate and goodput', () => {
  assert.equal(judgeStep(step(0, 1000, 9), defaultKneeCriteria).ok, true)
  const slow = judgeStep(step(0, 1000, 11), defaultKneeCriteria)
  assert.equal(slow.ok, false)
  assert.match(slow.reasons[0] ?? '', /p99 11\.00 ms > 10 ms/)
  assert.match(
    judgeStep(step(0, 1000, 5, { errorRate: 0.02 }), defaultKneeCriteria).reasons[0] ?? '',
    /errors/,
  )
  assert.match(
    judgeStep(step(0, 1000, 5, { goodput: 900 }), defaultKneeCriteria).reasons[0] ?? '',
    /goodput 900/,
  )
})

test('the knee is the first failed step confirmed by the next; max is the best step before it', () => {
  const steps = [step(0, 1000, 2), step(1, 2000, 3), step(2, 3000, 6), step(3, 4000, 25), step(4, 5000, 80)]
  const knee = findKnee(steps)
  assert.equal(knee.kneeStep, '04')
  assert.equal(knee.lastGoodStep, '03')
  assert.equal(knee.maxSustainableRps, 3000)
  assert.equal(knee.kneeAboveRange, false)
  assert.deepEqual(knee.blips, [])
})

test('one failed step followed by a good one is a blip, not the knee', () => {
  const steps = [step(0, 1000, 2), step(1, 2000, 14), step(2, 3000, 6), step(3, 4000, 30), step(4, 5000, 90)]
  const knee = findKnee(steps)
  assert.deepEqual(knee.blips, ['02'])
  assert.equal(knee.kneeStep, '04')
  assert.equal(knee.maxSustainableRps, 3000)
})

test('a failed last step (k6 aborted, or the plan ended) is the knee', () => {
  const knee = findKnee([step(0, 1000, 2), step(1, 2000, 3), step(2, 3000, 40)])
  assert.equal(knee.kneeStep, '03')
  assert.equal(knee.maxSustainableRps, 2000)
})

test('steps that never ran are ignored', () => {
  const never = { ...step(3, 4000, 0), requests: 0, achievedRps: 0 }
  const knee = findKnee([step(0, 1000, 2), step(1, 2000, 3), step(2, 3000, 40), never])
  assert.equal(knee.kneeStep, '03')
  assert.equal(knee.verdicts.length, 3)
})

test('when every step passes the knee is above the range', () => {
  const knee = findKnee([step(0, 1000, 2), step(1, 2000, 3)])
  assert.equal(knee.kneeStep, null)
  assert.equal(knee.kneeAboveRange, true)
  assert.equal(knee.maxSustainableRps, 2000)
})

test('when the first step already fails there is no sustainable rate', () => {
  const knee = findKnee([step(0, 1000, 20), step(1, 2000, 30)])
  assert.equal(knee.kneeStep, '01')
  assert.equal(knee.maxSustainableRps, null)
  assert.equal(knee.lastGoodStep, null)
})

test('the goodput decides the max, not the target', () => {
  const knee = findKnee([
    step(0, 1000, 2),
    step(1, 2000, 3, { goodput: 1980 }),
    step(2, 3000, 50),
    step(3, 4000, 60),
  ])
  assert.equal(knee.maxSustainableRps, 1980)
})

test('the knee window runs from the ramp into the last good step to the end of the knee step', () => {
  const steps = [step(0, 1000, 2), step(1, 2000, 3), step(2, 3000, 25), step(3, 4000, 80)]
  const knee = findKnee(steps)
  const window = kneeWindow(steps, knee, 1, 9_999_999)
  assert.equal(window.startMs, (steps[1]?.startMs ?? 0) - 1000)
  assert.equal(window.endMs, steps[2]?.endMs)
  const noKnee = findKnee(steps.slice(0, 2))
  assert.deepEqual(kneeWindow(steps.slice(0, 2), noKnee, 1, 0), {
    startMs: (steps[0]?.startMs ?? 0) - 1000,
    endMs: steps[1]?.endMs,
  })
})
