// recoveredAtS on hand-made steps (no infra): when a run counts as recovered, and when never.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { recoveredAtS, type Step } from '../lib/metric-steps.ts'

/** One step per second from `fromS`, each with the given growth of a single counter. */
const steps = (fromS: number, growths: number[]): Step[] =>
  growths.map((g, i) => ({ fromS: fromS + i, toS: fromS + i + 1, growth: [g] }))
/** Healthy: the counter grew by at most 1 in the step. */
const calm = (s: Step) => (s.growth[0] as number) <= 1
/** Together: the remaining steps' growth sums to at most `max`. */
const sumAtMost = (max: number) => (rest: readonly Step[]) =>
  rest.reduce((a, s) => a + (s.growth[0] as number), 0) <= max

test('recovered from the first step of the last healthy run, ignoring steps before fromS', () => {
  const s = steps(0, [9, 0, 9, 1, 0, 1])
  assert.equal(recoveredAtS(s, 0, calm), 3)
  // A step beginning half a second before fromS still counts (ticks are not exactly on time).
  assert.equal(recoveredAtS(steps(0.6, [1, 1]), 1, calm), 0.6)
  assert.equal(recoveredAtS(s, 4, calm), 4)
})

test('recovered at the last step: that step', () => {
  assert.equal(recoveredAtS(steps(0, [9, 9, 0]), 0, calm), 2)
  assert.equal(recoveredAtS(steps(0, [0]), 0, calm), 0)
})

test('never recovered: the last step unhealthy, or no step after fromS', () => {
  assert.equal(recoveredAtS(steps(0, [0, 0, 9]), 0, calm), undefined)
  assert.equal(recoveredAtS(steps(0, [0, 0]), 5, calm), undefined)
  assert.equal(recoveredAtS([], 0, calm), undefined)
})

test('healthyTogether moves recovery later, to the first step whose rest passes it', () => {
  const s = steps(0, [9, 1, 1, 0, 1, 0])
  assert.equal(recoveredAtS(s, 0, calm, sumAtMost(3)), 1)
  assert.equal(recoveredAtS(s, 0, calm, sumAtMost(2)), 2)
  assert.equal(recoveredAtS(s, 0, calm, sumAtMost(0)), 5)
  const seen: number[] = []
  recoveredAtS(s, 0, calm, (rest) => {
    seen.push(rest.length)
    return false
  })
  assert.deepEqual(seen, [5, 4, 3, 2, 1], 'each remainder from the recovery on, longest first')
})

test('healthyTogether never passes, even at the last step: never recovered', () => {
  assert.equal(
    recoveredAtS(steps(0, [9, 1, 1]), 0, calm, () => false),
    undefined,
  )
  assert.equal(recoveredAtS(steps(0, [9, 0]), 0, calm, sumAtMost(-1)), undefined)
})
