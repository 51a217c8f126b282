import assert from 'node:assert/strict'
import { test } from 'node:test'
import { accuracyRatio, expandByCost, maxExcessOverBucketBound, maxInAnyWindow } from '../src/accuracy.ts'

/** The same figure by brute force: every window that starts at an admission. */
function bruteMax(ts: number[], window: number): number {
  let best = 0
  for (const start of ts) best = Math.max(best, ts.filter((t) => t >= start && t < start + window).length)
  return best
}

test('maxInAnyWindow: windows are half-open, [t, t + W)', () => {
  assert.equal(maxInAnyWindow([], 1000), 0)
  assert.equal(maxInAnyWindow([5], 1000), 1)
  assert.equal(maxInAnyWindow([0, 999], 1000), 2)
  assert.equal(maxInAnyWindow([0, 1000], 1000), 1, 'W apart: two windows')
  assert.equal(
    maxInAnyWindow([0, 0, 0, 500, 1499, 1500], 1000),
    4,
    '[0, 1000) holds the three 0s and 500; [500, 1500) only two',
  )
})

test('maxInAnyWindow: a fixed window edge burst counts double', () => {
  // 100 admitted in the last 10 ms of one window, 100 in the first 10 ms of the next.
  const ts = [
    ...Array.from({ length: 100 }, (_, i) => 990 + i / 10),
    ...Array.from({ length: 100 }, (_, i) => 1000 + i / 10),
  ]
  assert.equal(maxInAnyWindow(ts, 1000), 200)
  assert.equal(accuracyRatio(ts, 1000, 100), 2)
})

test('maxInAnyWindow agrees with brute force on random sorted inputs', () => {
  let seed = 42
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    return seed / 2 ** 31
  }
  for (let round = 0; round < 200; round++) {
    const ts = Array.from({ length: 1 + Math.floor(random() * 60) }, () => Math.floor(random() * 5000)).sort(
      (a, b) => a - b,
    )
    const window = 1 + Math.floor(random() * 2000)
    assert.equal(maxInAnyWindow(ts, window), bruteMax(ts, window))
  }
})

test('maxInAnyWindow rejects unsorted input and a window ≤ 0', () => {
  assert.throws(() => maxInAnyWindow([2, 1], 10), RangeError)
  assert.throws(() => maxInAnyWindow([1], 0), RangeError)
  assert.throws(() => accuracyRatio([1], 10, 0), RangeError)
})

test('maxExcessOverBucketBound: ≤ 0 within burst + rate·t, positive beyond it', () => {
  // Burst 3 at once, then one per 10 units (rate 0.1): exactly on the bound.
  const onBound = [0, 0, 0, 10, 20, 30]
  assert.equal(maxExcessOverBucketBound(onBound, 3, 0.1), 0)
  // One admission 5 units early breaks it by half a unit.
  assert.ok(Math.abs(maxExcessOverBucketBound([0, 0, 0, 5], 3, 0.1) - 0.5) < 1e-9)
  assert.equal(maxExcessOverBucketBound([0, 0, 0, 0], 3, 0.1), 1)
  assert.equal(maxExcessOverBucketBound([], 3, 0.1), Number.NEGATIVE_INFINITY)
})

test('expandByCost repeats each admission by its cost, sorted', () => {
  assert.deepEqual(
    expandByCost([
      { at: 5, cost: 2 },
      { at: 1, cost: 1 },
    ]),
    [1, 5, 5],
  )
})
