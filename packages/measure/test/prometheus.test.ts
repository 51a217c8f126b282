import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parsePrometheusText, sumSeries } from '../src/prometheus.ts'

// What prom-client writes (HELP/TYPE, labels, histograms) plus the odd lines a hand-written
// exporter can produce.
const scrape = `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total{service="shortener",instance="vm-1"} 20.5
pg_pool_requests_waiting{pool="primary",service="shortener"} 2
pg_pool_requests_waiting{pool="replica",service="shortener"} 1
shortener_cache_hits_total{kind="link"} 900
shortener_cache_hits_total{kind="stale"} 100
shortener_cache_misses_total 7
http_request_duration_seconds_bucket{le="+Inf"} 5
weird_label{msg="a \\"quoted\\" value, with comma",path="C:\\\\x",nl="a\\nb"} 1 1700000000000
summary_quantile{quantile="0.99"} NaN
positive_inf +Inf
negative_inf -Inf
broken{unterminated="x} 3
not a sample line
`

test('names, labels (escapes included), values and timestamps', () => {
  const samples = parsePrometheusText(scrape)
  assert.deepEqual(samples[0], {
    name: 'process_cpu_seconds_total',
    labels: { service: 'shortener', instance: 'vm-1' },
    value: 20.5,
  })
  const weird = samples.find((s) => s.name === 'weird_label')
  assert.deepEqual(weird?.labels, { msg: 'a "quoted" value, with comma', path: 'C:\\x', nl: 'a\nb' })
  assert.equal(weird?.value, 1, 'the timestamp is not the value')
  assert.equal(samples.find((s) => s.name === 'http_request_duration_seconds_bucket')?.labels.le, '+Inf')
  assert.equal(samples.find((s) => s.name === 'positive_inf')?.value, Number.POSITIVE_INFINITY)
  assert.equal(samples.find((s) => s.name === 'negative_inf')?.value, Number.NEGATIVE_INFINITY)
})

test('comments, NaN values and malformed lines are skipped, not the whole scrape', () => {
  const names = parsePrometheusText(scrape).map((s) => s.name)
  assert.equal(names.length, 10)
  for (const skipped of ['summary_quantile', 'broken', 'not']) assert.ok(!names.includes(skipped), skipped)
})

test('sumSeries adds the finite values of a name, and tells "absent" from 0', () => {
  const samples = parsePrometheusText(scrape)
  assert.equal(sumSeries(samples, 'shortener_cache_hits_total'), 1000)
  assert.equal(sumSeries(samples, 'pg_pool_requests_waiting'), 3)
  assert.equal(sumSeries(samples, /^shortener_cache_/), 1007)
  assert.equal(sumSeries(samples, 'positive_inf'), undefined, 'infinities are no amount')
  assert.equal(sumSeries(samples, 'nobody_exposes_this'), undefined)
  assert.equal(sumSeries(parsePrometheusText('zero_total 0\n'), 'zero_total'), 0)
})
