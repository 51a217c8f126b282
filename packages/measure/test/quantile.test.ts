import assert from 'node:assert/strict'
import { test } from 'node:test'
import { quantile, quantileOf, summarizeLatency } from '../src/quantile.ts'

const oneToTen = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1)

test('quantiles interpolate between ranks like k6 and numpy (R-7)', () => {
  // numpy.percentile([1..10], [0, 50, 90, 99, 100]) = 1, 5.5, 9.1, 9.91, 10
  assert.equal(quantile(oneToTen, 0), 1)
  assert.equal(quantile(oneToTen, 0.5), 5.5)
  assert.ok(Math.abs(quantile(oneToTen, 0.9) - 9.1) < 1e-9)
  assert.ok(Math.abs(quantile(oneToTen, 0.99) - 9.91) < 1e-9)
  assert.equal(quantile(oneToTen, 1), 10)
})

test('R-7, not nearest-rank: the two definitions differ on the same values', () => {
  // Nearest-rank (the lab's definition before this module) gives 50 and 99 here.
  assert.equal(quantile(oneToHundred, 0.5), 50.5)
  assert.ok(Math.abs(quantile(oneToHundred, 0.99) - 99.01) < 1e-9)
})

test('quantileOf sorts numerically, not lexicographically', () => {
  assert.equal(quantileOf([10, 9, 100, 2], 1), 100)
  assert.equal(quantileOf([10, 9, 100, 2], 0), 2)
})

test('the quantile of one value is that value; of none is NaN', () => {
  assert.equal(quantile([7.5], 0.99), 7.5)
  assert.ok(Number.isNaN(quantile([], 0.5)))
})

test('a quantile outside 0..1 (a percent passed by mistake) is refused', () => {
  assert.throws(() => quantile([1, 2], 99), RangeError)
  assert.throws(() => quantile([1, 2], -0.1), RangeError)
  assert.throws(() => quantile([1, 2], Number.NaN), RangeError)
})

test('a p99 is driven by the slowest 1%', () => {
  const values = [...Array.from({ length: 990 }, () => 1), ...Array.from({ length: 10 }, () => 50)]
  const p99 = quantileOf(values, 0.99)
  assert.ok(p99 > 1 && p99 <= 50, `p99 ${p99}`)
  assert.equal(quantileOf(values, 0.98), 1)
})

test('summarizeLatency reports count, mean and the usual quantiles', () => {
  const s = summarizeLatency(oneToTen)
  assert.equal(s.count, 10)
  assert.equal(s.minMs, 1)
  assert.equal(s.maxMs, 10)
  assert.equal(s.avgMs, 5.5)
  assert.equal(s.p50Ms, 5.5)
  const empty = summarizeLatency([])
  assert.equal(empty.count, 0)
  assert.ok(Number.isNaN(empty.p99Ms))
})
