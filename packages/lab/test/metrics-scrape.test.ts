import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  MetricsSnapshot,
  MetricsView,
  parsePrometheusText,
  readinessSeries,
  type Scrape,
  seriesKey,
  sumSamples,
  UnmeasuredError,
} from '../src/metrics-scrape.ts'

const text = `# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{route="/:code",status="301"} 1027
http_requests_total{route="/:code",status="404"} 3 1700000000000
http_requests_total{route="/api/links",status="201"} 12
# a comment
cache_fills_total 42
weird{label="a \\"quoted\\" \\\\ value",other="x,y"} 1.5e3
latency_bucket{le="+Inf"} +Inf
not a sample line
up NaN
`

test('parsePrometheusText reads names, labels (with escapes), values and skips the rest', () => {
  const samples = parsePrometheusText(text)
  assert.equal(samples.length, 6)
  assert.deepEqual(samples[0], {
    name: 'http_requests_total',
    labels: { route: '/:code', status: '301' },
    value: 1027,
  })
  assert.equal(samples[1]?.value, 3, 'a timestamp after the value is ignored')
  assert.deepEqual(samples[4]?.labels, { label: 'a "quoted" \\ value', other: 'x,y' })
  assert.equal(samples[4]?.value, 1500)
  assert.equal(samples[5]?.value, Number.POSITIVE_INFINITY)
  assert.equal(sumSamples(samples, 'http_requests_total'), 1042)
  assert.equal(sumSamples(samples, 'http_requests_total', { route: '/:code' }), 1030)
  assert.equal(
    seriesKey(samples[0] as (typeof samples)[number]),
    'http_requests_total{route="/:code",status="301"}',
  )
})

/** The service of an instance named `<service>-<index>`, as the fleet names them. */
function serviceOf(instance: string): string {
  return instance.replace(/-\d+$/, '')
}

function scrape(instance: string, tS: number, value: number, ready: boolean | null = true): Scrape {
  const samples = [{ name: 'fills_total', labels: {}, value }]
  return { instance, service: serviceOf(instance), tS, ok: true, ready, samples }
}

/** A worker's scrape: it exposes its own counter, not the API's `fills_total`. */
function workerScrape(instance: string, tS: number, value: number): Scrape {
  const samples = [{ name: 'consumed_total', labels: {}, value }]
  return { instance, service: serviceOf(instance), tS, ok: true, ready: null, samples }
}

function failedScrape(instance: string, tS: number): Scrape {
  return {
    instance,
    service: serviceOf(instance),
    tS,
    ok: false,
    ready: null,
    samples: [],
    error: 'ECONNREFUSED',
  }
}

test('MetricsView sums over instances: before/after, delta, sampled series and max', () => {
  const view = new MetricsView(
    [scrape('api-0', -1, 10), scrape('api-1', -1, 5)],
    [scrape('api-0', 30, 25), scrape('api-1', 30, 9)],
    [scrape('api-0', 0, 10), scrape('api-1', 0, 5), scrape('api-0', 1, 20), scrape('api-1', 1, 8)],
  )
  assert.equal(view.sum('fills_total', undefined, 'before'), 15)
  assert.equal(view.sum('fills_total'), 34)
  assert.equal(view.delta('fills_total'), 19)
  assert.deepEqual(view.series('fills_total'), [
    { tS: 0, value: 15, instances: 2 },
    { tS: 1, value: 28, instances: 2 },
  ])
  assert.equal(view.maxOver('fills_total'), 28)
  assert.deepEqual(MetricsView.table([scrape('api-0', 0, 3)]), { 'api-0': { fills_total: 3 } })
})

/** `fn` throws UnmeasuredError with a message matching `why`. */
function assertUnmeasured(fn: () => unknown, why: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof UnmeasuredError && why.test(err.message))
}

test('a metric no instance exposes is unmeasured, not 0', () => {
  const view = new MetricsView(
    [scrape('api-0', -1, 10)],
    [scrape('api-0', 30, 25)],
    [scrape('api-0', 0, 10), scrape('api-0', 1, 20)],
  )
  assertUnmeasured(() => view.sum('missing_total'), /no instance exposes missing_total \(after the load\)/)
  assertUnmeasured(() => view.delta('missing_total'), /no instance exposes missing_total/)
  assertUnmeasured(() => view.delta('fills_total', { reason: 'x' }), /fills_total\{reason="x"\}/)
  assertUnmeasured(() => view.maxOver('missing_total'), /no sampled scrape exposes missing_total/)
  assertUnmeasured(() => new MetricsView([], [], []).sum('fills_total'), /no after scrape/)
})

test('a failed or missing scrape of an instance leaves the delta unmeasured, never negative', () => {
  const failed = failedScrape('api-1', 30)
  const before = [scrape('api-0', -1, 10), scrape('api-1', -1, 5)]
  const view = new MetricsView(before, [scrape('api-0', 30, 12), failed], [])
  // Read as before, the failed final scrape would make the growth 12 − 15 = −3, which "holds" any ≤ bound.
  assertUnmeasured(() => view.delta('fills_total'), /the after scrape of api-1 failed \(ECONNREFUSED\)/)
  assertUnmeasured(() => view.sum('fills_total'), /api-1 failed/)
  assert.equal(view.sum('fills_total', undefined, 'before'), 15, 'the before scrape itself is complete')
  const missing = new MetricsView(before, [scrape('api-0', 30, 12)], [])
  assertUnmeasured(() => missing.delta('fills_total'), /api-1 has no after scrape/)
  // The only instance: its failed scrape matters because its other scrape showed the metric.
  const alone = new MetricsView([scrape('api-0', -1, 10)], [failedScrape('api-0', 30)], [])
  assertUnmeasured(() => alone.delta('fills_total'), /the after scrape of api-0 failed/)
})

test("another service's failed or missing scrape leaves a metric it does not expose measured", () => {
  const before = [scrape('api-0', -1, 10), scrape('api-1', -1, 5), workerScrape('worker-0', -1, 3)]
  const after = [scrape('api-0', 30, 25), scrape('api-1', 30, 9), failedScrape('worker-0', 30)]
  const view = new MetricsView(before, after, [workerScrape('worker-0', 0, 4)])
  assert.equal(view.sum('fills_total'), 34, "the worker's failed scrape says nothing about an API counter")
  assert.equal(view.delta('fills_total'), 19)
  assertUnmeasured(() => view.delta('consumed_total'), /the after scrape of worker-0 failed/)
  // A worker that answered no scrape at all exposed nothing anywhere: it cannot hide an API count.
  const silent = new MetricsView(before.slice(0, 2), [...after.slice(0, 2), failedScrape('worker-0', 30)], [])
  assert.equal(silent.delta('fills_total'), 19)
  // An instance with no before scrape (started after it) matters only if its service exposes the metric.
  const late = new MetricsView(
    before.slice(0, 2),
    [...after.slice(0, 2), workerScrape('worker-0', 30, 1)],
    [],
  )
  assert.equal(late.delta('fills_total'), 19)
  assertUnmeasured(
    () => late.delta('consumed_total'),
    /no instance exposes consumed_total \(before the load\)/,
  )
  const lateApi = new MetricsView(before.slice(0, 1), after.slice(0, 2), [])
  assertUnmeasured(() => lateApi.delta('fills_total'), /api-1 has no before scrape/)
})

test('a snapshot (ctx.scrape) sums over instances with the same rules', () => {
  const now = new MetricsSnapshot([scrape('api-0', 0, 4), scrape('api-1', 0, 6), failedScrape('worker-0', 0)])
  assert.equal(now.sum('fills_total'), 10)
  assertUnmeasured(() => now.sum('missing_total'), /no instance exposes missing_total \(now\)/)
  const apiDown = new MetricsSnapshot([scrape('api-0', 0, 4), failedScrape('api-1', 0)])
  assertUnmeasured(() => apiDown.sum('fills_total'), /the current scrape of api-1 failed \(ECONNREFUSED\)/)
  assertUnmeasured(() => new MetricsSnapshot([]).sum('fills_total'), /no current scrape/)
})

test('a counter that went down on an instance (it restarted) is unmeasured; a gauge may go down', () => {
  const gauge = (instance: string, tS: number, value: number): Scrape => ({
    instance,
    service: serviceOf(instance),
    tS,
    ok: true,
    ready: null,
    samples: [{ name: 'queue_depth', labels: {}, value }],
  })
  const restarted = new MetricsView(
    [scrape('api-0', -1, 10), scrape('api-1', -1, 5)],
    [scrape('api-0', 30, 40), scrape('api-1', 30, 2)],
    [],
  )
  assertUnmeasured(
    () => restarted.delta('fills_total'),
    /fills_total went down on api-1: it restarted mid-run/,
  )
  assert.equal(new MetricsView([gauge('api-0', -1, 9)], [gauge('api-0', 30, 4)], []).delta('queue_depth'), -5)
})

test('readinessSeries counts ready instances per tick', () => {
  const series = readinessSeries([
    scrape('api-0', 0, 0, true),
    scrape('api-1', 0, 0, true),
    scrape('api-0', 1, 0, false),
    scrape('api-1', 1, 0, true),
    scrape('worker-0', 1, 0, null),
  ])
  assert.deepEqual(
    series.map((r) => [r.tS, r.ready, r.total]),
    [
      [0, 2, 2],
      [1, 1, 2],
    ],
  )
  assert.deepEqual(series[1]?.instances, { 'api-0': false, 'api-1': true })
})
