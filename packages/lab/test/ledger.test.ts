import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Ledger, type LedgerEntry } from '../src/ledger.ts'
import { perSecond, quantile } from '../src/timeseries.ts'

function entry(endMs: number, latencyMs: number, status = 200, op = 'get'): LedgerEntry {
  return {
    endMs,
    startMs: endMs - latencyMs,
    latencyMs,
    status,
    ok: status >= 200 && status < 400,
    op,
    scenario: 's',
    method: 'GET',
    tags: { op },
  }
}

test("quantile is @faultline/measure's R-7 (k6's own), not nearest-rank", () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1)
  assert.equal(quantile(values, 0.5), 50.5)
  assert.ok(Math.abs(quantile(values, 0.99) - 99.01) < 1e-9)
  assert.equal(quantile(values, 1), 100)
  assert.equal(quantile([7], 0.99), 7)
  assert.ok(Number.isNaN(quantile([], 0.5)))
})

test('perSecond buckets by arrival time and computes p50/p99 per second', () => {
  const entries = [
    ...Array.from({ length: 100 }, (_, i) => entry(10 + i, i + 1)), // second 0: latencies 1..100
    entry(1500, 5, 503),
    entry(1600, 7, 0),
    entry(3200, 9), // second 3, past a 3 s load: still counted
  ]
  const series = perSecond(entries, 3)
  assert.equal(series.length, 4)
  assert.deepEqual(
    series.map((s) => [s.t, s.count, s.ok, s.errors]),
    [
      [0, 100, 100, 0],
      [1, 2, 0, 2],
      [2, 0, 0, 0],
      [3, 1, 1, 0],
    ],
  )
  assert.equal(series[0]?.p50Ms, 50.5)
  assert.ok(Math.abs((series[0]?.p99Ms ?? 0) - 99.01) < 1e-9)
  assert.equal(series[1]?.errorRate, 1)
  assert.equal(series[2]?.p99Ms, null, 'an empty second has no latency')
})

test('Ledger.select filters by op and by a window on end or start time', () => {
  const ledger = new Ledger([
    entry(500, 100, 200, 'a'),
    entry(1500, 1000, 200, 'b'),
    entry(2500, 10, 500, 'a'),
  ])
  assert.equal(ledger.select({ op: 'a' }).count, 2)
  assert.equal(ledger.select({ fromS: 1, toS: 2 }).count, 1)
  assert.equal(ledger.select({ fromS: 0, toS: 1, by: 'start' }).count, 2, 'b started at 0.5 s')
  assert.equal(ledger.select({ where: (e) => e.latencyMs > 50 }).count, 2)
  assert.equal(ledger.errorRate(), 1 / 3)
  assert.equal(ledger.successRatio(), 2 / 3)
  assert.equal(ledger.answeredCount, 3)
  assert.deepEqual(ledger.statusCounts(), { 200: 2, 500: 1 })
  assert.deepEqual(ledger.ops(), ['a', 'b'])
  assert.equal(ledger.maxLatencyMs(), 1000)
  assert.equal(new Ledger().errorRate(), 0)
})

test('Ledger.toCsv writes one line per entry and quotes fields that need it', () => {
  const csv = new Ledger([entry(1, 1, 200, 'say "hi", then'), entry(2, 1)]).toCsv().trim().split('\n')
  assert.equal(csv.length, 3)
  assert.match(csv[0] ?? '', /^end_ms,start_ms,latency_ms,status,ok,op/)
  assert.match(csv[1] ?? '', /"say ""hi"", then"/)
})
