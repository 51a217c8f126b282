import assert from 'node:assert/strict'
import { test } from 'node:test'
import { droppedShare, meetsLatencyTarget, openModelVus } from '../src/open-model.ts'

test('open-model VUs: rate × p99 target (Little), at least 8', () => {
  assert.equal(openModelVus(6000, 10), 60)
  assert.equal(openModelVus(6001, 10), 61)
  assert.equal(openModelVus(100, 10), 8)
})

test('the latency target needs p99, errors and iterations k6 could not start all within bounds', () => {
  const ok = { p99Ms: 9.9, failedRate: 0, dropped: 0 }
  assert.equal(meetsLatencyTarget(ok, 1000, 10, 10), true)
  assert.equal(meetsLatencyTarget({ ...ok, p99Ms: 10.1 }, 1000, 10, 10), false)
  assert.equal(meetsLatencyTarget({ ...ok, p99Ms: null }, 1000, 10, 10), false)
  assert.equal(meetsLatencyTarget({ ...ok, failedRate: 0.02 }, 1000, 10, 10), false)
  // 10 000 offered: 100 not started is 1 % (still met), 101 is not.
  assert.equal(droppedShare({ dropped: 100 }, 1000, 10), 0.01)
  assert.equal(meetsLatencyTarget({ ...ok, dropped: 100 }, 1000, 10, 10), true)
  assert.equal(meetsLatencyTarget({ ...ok, dropped: 101 }, 1000, 10, 10), false)
})
