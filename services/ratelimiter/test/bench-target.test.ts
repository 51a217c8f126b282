// The ratelimiter's BenchTarget as the knee finder reads it: its series out of a real-shaped
// /metrics scrape (the limiter's counters, the degraded one absent until a decision degrades), and
// its own saturation signal (decisions missing the deadline) judged with the bench's.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  attributeSaturation,
  benchTargetPath,
  deriveSamples,
  loadBenchTarget,
  metricsFromPrometheus,
  type ResourceSample,
  resourceSample,
} from '@faultline/bench'
import { repoRoot } from '@faultline/infra'
import { parsePrometheusText } from '@faultline/measure'
import target, { benchRulesFile } from '../src/bench-target.ts'

const t0 = 1_700_000_000_000
const at = (second: number) => t0 + second * 1000
const window = { startMs: at(10), endMs: at(20) }
const judge = (samples: ResourceSample[]) =>
  attributeSaturation(samples, window, { systemSignals: target.signals }).saturated

function series(seconds: number, values: (i: number) => Partial<ResourceSample>): ResourceSample[] {
  return Array.from({ length: seconds }, (_, i) => resourceSample(t0 + i * 1000, values(i)))
}

test('the bench finds this target by the system name, with its scripts and rules in place', async () => {
  assert.match(benchTargetPath('ratelimiter'), /services\/ratelimiter\/src\/bench-target\.ts$/)
  assert.equal(await loadBenchTarget('ratelimiter'), target)
  for (const script of Object.values(target.scripts)) assert.ok(existsSync(join(repoRoot, script)), script)
  assert.ok(existsSync(benchRulesFile))
  // The knee seeds keys only for a path with {code} in it.
  assert.ok(target.path.includes('{code}'))
})

test('its series are read from /metrics as rates, summed over labels; degraded is absent until one degrades', () => {
  const scrape = (allowed: number, degraded: number | undefined, attempts: number) =>
    parsePrometheusText(`ratelimit_decisions_total{outcome="allowed",service="ratelimiter"} ${allowed}
ratelimit_decisions_total{outcome="denied",service="ratelimiter"} 10
${degraded === undefined ? '' : `ratelimit_degraded_total{reason="deadline"} ${degraded}`}
ratelimit_redis_attempts_total ${attempts}
`)
  const raw = [
    {
      tMs: t0,
      cpuSeconds: {},
      metrics: metricsFromPrometheus(scrape(1000, undefined, 1010), target.metrics),
    },
    {
      tMs: t0 + 2000,
      cpuSeconds: {},
      metrics: metricsFromPrometheus(scrape(3000, undefined, 3010), target.metrics),
    },
    { tMs: t0 + 3000, cpuSeconds: {}, metrics: metricsFromPrometheus(scrape(4000, 5, 4010), target.metrics) },
  ]
  const [first, second] = deriveSamples(raw, target.metrics)
  assert.equal(first?.system.decisions, 1000)
  assert.equal(first?.system.redisCalls, 1000)
  assert.equal(first?.system.degraded, null)
  assert.equal(first?.system.retriesRefused, null)
  // No degraded series yet: the share is 0, measured, not unknown.
  const deadline = target.signals.find((s) => s.id === 'decision-deadline')
  assert.equal(first && deadline?.value(first), 0)
  assert.equal(second?.system.decisions, 1000)
})

test('decisions missing the deadline for two seconds name the decision deadline; a stray one does not', () => {
  const degrading = series(25, (i) => ({
    system: { decisions: 3000, degraded: i >= 12 ? 90 : 0 },
    serviceCpu: 0.5,
  }))
  assert.equal(judge(degrading)?.id, 'decision-deadline')
  assert.equal(judge(degrading)?.crossedAtMs, at(12))

  const stray = series(25, (i) => ({
    system: { decisions: 3000, degraded: i === 12 ? 90 : 0 },
    serviceCpu: 0.5,
  }))
  assert.equal(judge(stray), null)
  // No decisions measured (no /metrics): no value, not a share of zero.
  assert.equal(target.signals[0]?.value(resourceSample(t0, { system: { decisions: null } })), null)
})

test('an event loop pinned first is still the service, before the deadline it causes', () => {
  const samples = series(25, (i) => ({
    serviceCpu: i >= 11 ? 0.97 : 0.5,
    system: { decisions: 3000, degraded: i >= 13 ? 300 : 0 },
  }))
  assert.equal(judge(samples)?.id, 'service-cpu')
})
