import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Experiment } from '../src/experiment.ts'
import {
  errorRateBelow,
  evaluateInvariants,
  goodputRecovers,
  invariant,
  latencyBelow,
  metricAtMost,
  type RunContext,
  readyInstancesAtLeast,
  resolveWindow,
  successAtLeast,
} from '../src/invariants.ts'
import { Ledger, type LedgerEntry } from '../src/ledger.ts'
import { MetricsView } from '../src/metrics-scrape.ts'
import type { FaultWindow } from '../src/timeline.ts'
import { perSecond } from '../src/timeseries.ts'

const faults: FaultWindow[] = [{ fault: 0, label: 'latency', fromS: 10, toS: 20, firesS: [10] }]

/** 30 s at 100 req/s; during 10–20 s half fail and latency is 900 ms, then goodput recovers at `recoverAt`. */
function ctxWith(recoverAt = 20): RunContext {
  const entries: LedgerEntry[] = []
  for (let s = 0; s < 30; s++) {
    for (let i = 0; i < 100; i++) {
      const endMs = s * 1000 + i * 10
      const bad = s >= 10 && s < recoverAt && i % 2 === 0
      const latencyMs = s >= 10 && s < 20 ? 900 : 5
      entries.push({
        endMs,
        startMs: endMs - latencyMs,
        latencyMs,
        status: bad ? 503 : 200,
        ok: !bad,
        op: i % 10 === 0 ? 'create' : 'redirect',
        scenario: 's',
        method: 'GET',
        tags: {},
      })
    }
  }
  const ledger = new Ledger(entries)
  return {
    mode: 'naive',
    experiment: {} as Experiment,
    mitigations: {},
    durationS: 30,
    ledger,
    series: perSecond(entries, 30),
    faults,
    events: [],
    window: (sel) => resolveWindow(sel, faults, 30),
    firings: () => 0,
    metrics: new MetricsView(
      [
        {
          instance: 'api-0',
          service: 'api',
          tS: -1,
          ok: true,
          ready: null,
          samples: [{ name: 'fills_total', labels: {}, value: 3 }],
        },
      ],
      [
        {
          instance: 'api-0',
          service: 'api',
          tS: 31,
          ok: true,
          ready: null,
          samples: [{ name: 'fills_total', labels: {}, value: 10 }],
        },
      ],
      [],
    ),
    readiness: [
      { tS: 0, ready: 2, total: 2, instances: { 'api-0': true, 'api-1': true } },
      { tS: 12, ready: 0, total: 2, instances: { 'api-0': false, 'api-1': false } },
    ],
    services: [],
    // The clients, fleet and infra of the lab context are not read by these invariants.
  } as Partial<RunContext> as RunContext
}

test('resolveWindow: fault, before, after, all, explicit; instant faults extend to the load end', () => {
  assert.deepEqual(resolveWindow('fault', faults, 30), { fromS: 10, toS: 20 })
  assert.deepEqual(resolveWindow('before-fault', faults, 30), { fromS: 0, toS: 10 })
  assert.deepEqual(resolveWindow('after-fault', faults, 30), { fromS: 20, toS: Number.POSITIVE_INFINITY })
  assert.deepEqual(resolveWindow({ fromS: 1, toS: 2 }, faults, 30), { fromS: 1, toS: 2 })
  const instant: FaultWindow[] = [{ fault: 0, label: 'flush', fromS: 12, toS: 12, firesS: [12] }]
  assert.deepEqual(resolveWindow('fault', instant, 30), { fromS: 12, toS: 30 })
})

test('latency and error invariants over the fault window, by op', async () => {
  const ctx = ctxWith()
  const [p99, err, errBefore, okRedirects] = await evaluateInvariants(
    [
      latencyBelow(250),
      errorRateBelow(0.01),
      errorRateBelow(0.01, { window: 'before-fault' }),
      successAtLeast(0.99, { op: 'redirect', window: 'after-fault' }),
    ],
    ctx,
  )
  assert.deepEqual(
    [p99?.holds, p99?.observed, p99?.name],
    [false, '900 ms', 'p99 latency in the fault window'],
  )
  assert.deepEqual([err?.holds, err?.observed], [false, '50.0%'])
  assert.equal(errBefore?.holds, true)
  assert.equal(errBefore?.name, 'error rate before the fault')
  assert.deepEqual(
    [okRedirects?.holds, okRedirects?.name],
    [true, 'successful requests of redirect after the fault'],
  )
})

test('goodputRecovers: seconds from the fault start until goodput is back and stays back', async () => {
  const [fast] = await evaluateInvariants([goodputRecovers({ withinS: 15 })], ctxWith(20))
  assert.deepEqual([fast?.holds, fast?.observed], [true, '10 s'])
  const [slow] = await evaluateInvariants([goodputRecovers({ withinS: 15 })], ctxWith(26))
  assert.deepEqual([slow?.holds, slow?.observed], [false, '16 s'])
  const [never] = await evaluateInvariants([goodputRecovers({ withinS: 15 })], ctxWith(31))
  assert.equal(never?.holds, false)
  assert.match(String(never?.observed), /not within the run \(low 50\.0% of baseline\)/)
})

test('ready instances, metric deltas, custom invariants and a check that throws', async () => {
  const results = await evaluateInvariants(
    [
      readyInstancesAtLeast(1),
      metricAtMost('fills_total', 5),
      metricAtMost('fills_total', 10, { of: 'after' }),
      invariant(
        'custom',
        '= 3000',
        (ctx) => ({ holds: ctx.ledger.count === 3000, observed: ctx.ledger.count }),
        {
          expect: 'always',
        },
      ),
      invariant('broken', 'x', () => {
        throw new Error('no table')
      }),
    ],
    ctxWith(),
  )
  assert.deepEqual(
    results.map((r) => [r.holds, r.observed, r.expect]),
    [
      [false, 'min 0 (at 12 s)', 'reproduces'],
      [false, 7, 'reproduces'],
      [true, 10, 'reproduces'],
      [true, 3000, 'always'],
      [false, 'check failed: no table', 'reproduces'],
    ],
  )
})

test('an invariant that reads an unmeasured metric fails and says why, whatever it expected', async () => {
  const results = await evaluateInvariants(
    [
      metricAtMost('never_exposed_total', 5, { expect: 'always' }),
      invariant('fills per expiry', '≤ 1', (ctx) => {
        const fills = ctx.metrics.delta('fills_total', { instance: 'gone' })
        return { holds: fills <= 1, observed: fills }
      }),
    ],
    ctxWith(),
  )
  assert.deepEqual(
    results.map((r) => [r.holds, r.observed]),
    [
      [false, 'unmeasured: no instance exposes never_exposed_total (after the load)'],
      [false, 'unmeasured: no instance exposes fills_total{instance="gone"} (after the load)'],
    ],
  )
})

test('an invariant names the metric it reads; metricAtMost names its own', () => {
  assert.deepEqual(
    invariant('a', 'x', () => ({ holds: true, observed: 0 }), { metric: 'fills_total' }).metric,
    {
      name: 'fills_total',
    },
  )
  const labelled = { name: 'drops_total', labels: { reason: 'full' } }
  assert.deepEqual(
    invariant('b', 'x', () => ({ holds: true, observed: 0 }), { metric: labelled }).metric,
    labelled,
  )
  assert.equal(invariant('c', 'x', () => ({ holds: true, observed: 0 })).metric, undefined)
  assert.deepEqual(metricAtMost('fills_total', 1).metric, { name: 'fills_total' })
  assert.deepEqual(metricAtMost('drops_total', 0, { labels: { reason: 'full' } }).metric, labelled)
})
