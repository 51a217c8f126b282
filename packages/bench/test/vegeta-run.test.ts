import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type VegetaReport, vegetaStats, vegetaTargets } from '../src/vegeta-run.ts'

/** Shaped like `vegeta report -type=json` (latencies in ns), trimmed to what is read. */
const report = (over: Partial<VegetaReport> = {}): VegetaReport => ({
  requests: 129_915,
  rate: 8661.07,
  success: 1,
  latencies: { '50th': 175_296, '90th': 1_007_049, '99th': 3_730_748, max: 21_272_165 },
  status_codes: { '302': 129_915 },
  ...over,
})

test('vegetaStats reads nanoseconds as milliseconds, and counts what the schedule offered but was not sent', () => {
  assert.deepEqual(vegetaStats(report(), 8661, 15), {
    requests: 129_915,
    failedRate: 0,
    dropped: 0,
    p50Ms: 0.175296,
    p90Ms: 1.007049,
    p99Ms: 3.730748,
    p999Ms: null,
    maxMs: 21.272165,
  })
  // A generator that fell behind sent fewer than rate × duration: the rest did not start on time.
  assert.equal(vegetaStats(report({ requests: 120_000 }), 8661, 15).dropped, 9_915)
})

test('vegetaStats: failures are 1 − success; a run without requests has no latency and failed', () => {
  assert.ok(Math.abs(vegetaStats(report({ success: 0.97 }), 8661, 15).failedRate - 0.03) < 1e-12)
  const empty = vegetaStats(report({ requests: 0, success: 0 }), 100, 15)
  assert.equal(empty.failedRate, 1)
  assert.equal(empty.p99Ms, null)
  assert.equal(empty.dropped, 1500)
})

test('vegetaTargets writes one GET per URL, used round robin by vegeta', () => {
  assert.equal(
    vegetaTargets(['http://127.0.0.1:3300/a', 'http://127.0.0.1:3300/b']),
    'GET http://127.0.0.1:3300/a\nGET http://127.0.0.1:3300/b\n',
  )
})

test('vegetaTargets puts the headers of a target under its GET, then a blank line', () => {
  assert.equal(
    vegetaTargets([
      { url: 'http://127.0.0.1:3300/', headers: { 'x-api-key': 'k-0' } },
      { url: 'http://127.0.0.1:3300/', headers: { 'x-api-key': 'k-1', accept: 'application/json' } },
      'http://127.0.0.1:3300/c',
    ]),
    'GET http://127.0.0.1:3300/\nx-api-key: k-0\n\nGET http://127.0.0.1:3300/\nx-api-key: k-1\naccept: application/json\n\nGET http://127.0.0.1:3300/c\n',
  )
})
