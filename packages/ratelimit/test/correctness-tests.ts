/**
 * The issue's correctness test, registered once for each store (accuracy.infra.test.ts: single
 * Redis; cluster.infra.test.ts: Redis Cluster). Four instances — child processes, each with its
 * own connection and a wall clock skewed by up to ±5 s — hammer one key; accuracy is measured on
 * the Redis time each script reported for its admissions (the clock that decided):
 *
 *  - sliding log: at most the limit in every window of the rule's length (ratio 1.00, and tight);
 *  - token bucket, GCRA: within their definition, burst + rate × t in every interval t;
 *  - fixed window: its edge burst, ratio ≥ 1.9 (2.00 measured), from the same traffic;
 *  - sliding-window counter: its worst case, measured, printed, and between 1 and 2.
 *
 * A second test shows the verdicts do not depend on the instances' clocks.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { AfterHost } from '@faultline/testkit'
import { accuracyRatio, maxExcessOverBucketBound, maxInAnyWindow } from '../src/accuracy.ts'
import { type AlgorithmName, algorithmNames, type LimitRule } from '../src/types.ts'
import {
  correctnessPhases,
  type Instance,
  type InstanceTarget,
  runLoad,
  startInstances,
} from './accuracy-harness.ts'

export interface CorrectnessStore {
  target: InstanceTarget
  /** Key prefix for the instances' limiters; its keys are removed by the caller's cleanup. */
  prefix: string
  /** Redis TIME in µs, from the store (any node of a cluster: they share this machine's clock). */
  redisTimeUs(): Promise<number>
}

/** The rule: 100 per second, one key, four instances. */
const rule = (algorithm: AlgorithmName): LimitRule => ({ algorithm, limit: 100, windowMs: 1000 })
const concurrencyPerInstance = 4

/**
 * `setup` gets an `after` host whose cleanups run once the instances are closed (node:test's own
 * `after` cannot be registered from inside a `before` hook).
 */
export function registerCorrectnessTests(
  label: string,
  setup: (host: AfterHost) => Promise<CorrectnessStore>,
): void {
  let store: CorrectnessStore
  let instances: Instance[] = []
  const cleanups: Array<() => unknown> = []

  before(async () => {
    store = await setup({ after: (fn) => cleanups.push(fn) })
    instances = await startInstances(store.target, store.prefix)
  })
  after(async () => {
    await Promise.all(instances.map((i) => i.close()))
    for (const cleanup of cleanups) await cleanup()
  })

  for (const algorithm of algorithmNames) {
    test(`${label}: 4 instances, skewed clocks, one key, ${algorithm} at 100/s: max admitted in any window`, async (t) => {
      const r = rule(algorithm)
      const key = `hot-${algorithm}`
      const phases = correctnessPhases(await store.redisTimeUs(), r.windowMs)
      const load = await runLoad(instances, { key, rule: r, phases, concurrency: concurrencyPerInstance })
      assert.equal(load.errors, 0, load.firstError)
      assert.ok(load.admitted.length >= r.limit, `admitted only ${load.admitted.length}`)
      assert.ok(load.decisions > 2 * load.admitted.length, 'the key was overloaded (most decisions denied)')

      const windowUs = r.windowMs * 1000
      const most = maxInAnyWindow(load.admitted, windowUs)
      const ratio = accuracyRatio(load.admitted, windowUs, r.limit)
      t.diagnostic(
        `${label} ${algorithm}: max in any ${r.windowMs} ms window ${most} / ${r.limit} = ${ratio.toFixed(2)} ` +
          `(${load.decisions} decisions, ${load.admitted.length} admitted)`,
      )
      if (algorithm === 'sliding-log') {
        assert.equal(most, r.limit, 'exact: never more than the limit, and the limit is reached')
      } else if (algorithm === 'token-bucket' || algorithm === 'gcra') {
        const excess = maxExcessOverBucketBound(load.admitted, r.burst ?? r.limit, r.limit / windowUs)
        t.diagnostic(`${label} ${algorithm}: largest excess over burst + rate·t: ${excess.toFixed(6)}`)
        assert.ok(excess <= 1e-6, `over its definition by ${excess}`)
      } else if (algorithm === 'fixed-window') {
        // The phases put a full window's worth on each side of an edge: nearly double (2.00 measured).
        assert.ok(ratio >= 1.9, `the edge burst should show: ratio ${ratio}`)
      } else {
        // The sliding-window counter's estimate over-admits on this shape, but never by the fixed
        // window's double (1.83–1.85 measured on Redis and the Cluster).
        assert.ok(
          ratio > 1 && ratio < 2,
          `the counter's worst case should lie between exact and fixed: ${ratio}`,
        )
      }
    })
  }

  test(`${label}: clock skew changes nothing: the same verdicts whichever instance (and clock) decides`, async (t) => {
    // The skew is real: each instance's Date.now() is off by its offset (±5 s).
    for (const instance of instances) {
      const seenOffsetMs = (await instance.localNowMs()) - Date.now()
      assert.ok(
        Math.abs(seenOffsetMs - instance.clockOffsetMs) < 500,
        `offset ${seenOffsetMs} ≠ ${instance.clockOffsetMs}`,
      )
    }
    for (const algorithm of algorithmNames) {
      // Windows: 10 per 1 s, so ±5 s of skew is five windows (a local-clock fixed window would put
      // the instances in different windows and admit all 15). Buckets: 10 at once, then one per minute.
      const r: LimitRule =
        algorithm === 'token-bucket' || algorithm === 'gcra'
          ? { algorithm, limit: 1, windowMs: 60_000, burst: 10 }
          : { algorithm, limit: 10, windowMs: 1000 }
      // Start just after a window boundary, so 15 quick decisions share one window.
      const nowUs = await store.redisTimeUs()
      const windowUs = r.windowMs * 1000
      if (r.windowMs === 1000) await sleep((windowUs - (nowUs % windowUs)) / 1000 + 20)
      const verdicts: boolean[] = []
      const times: number[] = []
      for (let n = 0; n < 15; n++) {
        const decision = await (instances[n % instances.length] as Instance).decide(`skew-${algorithm}`, r)
        verdicts.push(decision.allowed)
        times.push(decision.decidedAtUs)
      }
      const first = times[0] as number
      assert.ok(
        times.every((at) => Math.floor(at / windowUs) === Math.floor(first / windowUs)),
        'premise: all in one window',
      )
      assert.deepEqual(verdicts, [...Array(10).fill(true), ...Array(5).fill(false)], algorithm)
    }
    t.diagnostic(
      `${label}: 15 decisions round-robin over clocks ${instances.map((i) => i.clockOffsetMs).join(', ')} ms: 10 admitted, 5 denied, for every algorithm`,
    )
  })
}
