/**
 * What every system's `test/bench-target.test.ts` checks about its BenchTarget, in one place: that
 * the bench finds it by name, and a synthetic timeline to judge its saturation signals on
 * together with the bench's generic ones. Test-only: it asserts with node:assert.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { repoRoot } from '@faultline/infra'
import { parsePrometheusText } from '@faultline/measure'
import { metricsFromPrometheus } from './sampler.ts'
import { attributeSaturation, type RawSample, type ResourceSample, resourceSample } from './saturation.ts'
import { type BenchTarget, benchTargetPath, loadBenchTarget } from './target.ts'

/**
 * The bench loads `target` by its system name (the knee finder's `--system`), refuses a system
 * that has none, and everything the target points at exists: its k6 scripts, and a `{code}` in
 * its path for the keys the knee seeds.
 */
export async function assertBenchTargetLoads(target: BenchTarget): Promise<void> {
  const folder = new RegExp(`services/${target.name}/src/bench-target\\.ts$`)
  assert.match(benchTargetPath(target.name), folder)
  assert.equal(await loadBenchTarget(target.name), target)
  await assert.rejects(loadBenchTarget('no-such-system'), /no bench target for no-such-system/)
  for (const script of Object.values(target.scripts)) assert.ok(existsSync(join(repoRoot, script)), script)
  assert.ok(target.path.includes('{code}'), `${target.path} has no {code} for the seeded keys`)
}

/** A timeline of per-second samples starting at `t0`, judged over seconds 10 to 20. */
export interface TargetTimeline {
  t0: number
  /** Epoch ms of second `second` of the timeline. */
  at(second: number): number
  /** One sample per second: nothing measured except what `values` sets for second `i`. */
  series(seconds: number, values: (i: number) => Partial<ResourceSample>): ResourceSample[]
  /** The first signal (the target's or the bench's) that crossed in seconds 10 to 20, or null. */
  judge(samples: readonly ResourceSample[]): ReturnType<typeof attributeSaturation>['saturated']
  /** A raw sample `offsetMs` after `t0` holding the target's series read from a /metrics text. */
  scraped(offsetMs: number, prometheusText: string): RawSample
}

export function targetTimeline(target: BenchTarget, t0 = 1_700_000_000_000): TargetTimeline {
  const at = (second: number) => t0 + second * 1000
  const window = { startMs: at(10), endMs: at(20) }
  return {
    t0,
    at,
    series: (seconds, values) => Array.from({ length: seconds }, (_, i) => resourceSample(at(i), values(i))),
    judge: (samples) => attributeSaturation(samples, window, { systemSignals: target.signals }).saturated,
    scraped: (offsetMs, text) => ({
      tMs: t0 + offsetMs,
      cpuSeconds: {},
      metrics: metricsFromPrometheus(parsePrometheusText(text), target.metrics),
    }),
  }
}
