import assert from 'node:assert/strict'
import { test } from 'node:test'
import { percentile, percentileSorted, summarizeLatency } from '../src/stats.ts'

const oneToTen = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]

test('percentiles interpolate between ranks like k6 and numpy (R-7)', () => {
  // numpy.percentile([1..10], [0, 50, 90, 99, 100]) = 1, 5.5, 9.1, 9.91, 10
  assert.equal(percentile(oneToTen, 0), 1)
  assert.equal(percentile(oneToTen, 50), 5.5)
  assert.ok(Math.abs(percentile(oneToTen, 90) - 9.1) < 1e-9)
  assert.ok(Math.abs(percentile(oneToTen, 99) - 9.91) < 1e-9)
  assert.equal(percentile(oneToTen, 100), 10)
})

test('percentile sorts numerically, not lexicographically', () => {
  assert.equal(percentile([10, 9, 100, 2], 100), 100)
  assert.equal(percentile([10, 9, 100, 2], 0), 2)
})

test('percentile of one value is that value; of none is NaN', () => {
  assert.equal(percentile([7.5], 99), 7.5)
  assert.ok(Number.isNaN(percentile([], 50)))
})

test('percentile outside 0..100 is refused', () => {
  assert.throws(() => percentileSorted([1, 2], 101), RangeError)
  assert.throws(() => percentileSorted([1, 2], -1), RangeError)
})

test('a p99 is driven by the slowest 1%', () => {
  const values = [...Array.from({ length: 990 }, () => 1), ...Array.from({ length: 10 }, () => 50)]
  const p99 = percentile(values, 99)
  assert.ok(p99 > 1 && p99 <= 50, `p99 ${p99}`)
  assert.equal(percentile(values, 98), 1)
})

test('summarizeLatency reports count, mean and the usual percentiles', () => {
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
