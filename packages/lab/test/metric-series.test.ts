import assert from 'node:assert/strict'
import { test } from 'node:test'
import { invariant, metricAtMost } from '../src/invariants.ts'
import { metricSeries, namedMetricSeries } from '../src/metric-series.ts'
import type { Scrape } from '../src/metrics-scrape.ts'

function scrape(instance: string, tS: number, samples: Record<string, number>, ok = true): Scrape {
  return {
    instance,
    service: instance.replace(/-\d+$/, ''),
    tS,
    ok,
    ready: null,
    samples: Object.entries(samples).map(([name, value]) => ({ name, labels: {}, value })),
  }
}

const values = (s: { points: { value: number | null }[] }) => s.points.map((p) => p.value)

test("a counter's rate per second is summed over instances; second t covers [t, t+1)", () => {
  const samples = [
    scrape('api-0', 0, { fills_total: 0 }),
    scrape('api-1', 0, { fills_total: 10 }),
    scrape('api-0', 1, { fills_total: 4 }),
    scrape('api-1', 1, { fills_total: 10 }),
    scrape('api-0', 2, { fills_total: 4 }),
    scrape('api-1', 2, { fills_total: 16 }),
  ]
  const s = metricSeries({ name: 'fills_total' }, samples, ['fills per expiry'])
  assert.equal(s.kind, 'rate')
  assert.deepEqual(s.invariants, ['fills per expiry'])
  assert.deepEqual(s.points, [
    { t: 0, value: 4 },
    { t: 1, value: 6 },
  ])
})

test('a missed scrape spreads the growth over the seconds it spans; a restart counts from 0', () => {
  const samples = [
    scrape('api-0', 0, { fills_total: 0 }),
    scrape('api-0', 1, { fills_total: 2 }, false),
    scrape('api-0', 2, { fills_total: 8 }),
    scrape('api-0', 3, { fills_total: 3 }),
  ]
  assert.deepEqual(values(metricSeries({ name: 'fills_total' }, samples)), [4, 4, 3])
})

test('seconds in which no instance exposed the metric are gaps (null), not zeros', () => {
  const samples = [
    scrape('api-0', 0, {}),
    scrape('api-0', 1, { fills_total: 1 }),
    scrape('api-0', 2, { fills_total: 3 }),
  ]
  assert.deepEqual(values(metricSeries({ name: 'fills_total' }, samples)), [null, 2])
})

test('a gauge (no _total suffix) is drawn as its value, summed over instances', () => {
  const samples = [
    scrape('api-0', 0, { spooled: 1 }),
    scrape('api-1', 0, { spooled: 2 }),
    scrape('api-0', 1, { spooled: 5 }),
  ]
  const s = metricSeries({ name: 'spooled' }, samples)
  assert.equal(s.kind, 'value')
  assert.deepEqual(values(s), [3, 5])
})

test('namedMetricSeries: one series per metric the invariants name, with every invariant that reads it', () => {
  const samples = [scrape('api-0', 0, { a_total: 0, b: 1 }), scrape('api-0', 1, { a_total: 5, b: 1 })]
  const series = namedMetricSeries(
    [
      invariant('first', 'x', () => ({ holds: true, observed: 0 }), { metric: 'a_total' }),
      invariant('unnamed', 'x', () => ({ holds: true, observed: 0 })),
      metricAtMost('b', 3, { of: 'max' }),
      metricAtMost('a_total', 9, { name: 'second' }),
    ],
    samples,
  )
  assert.deepEqual(
    series.map((s) => [s.metric, s.kind, s.invariants, values(s)]),
    [
      ['a_total', 'rate', ['first', 'second'], [5]],
      ['b', 'value', ['b (max)'], [1, 1]],
    ],
  )
})
