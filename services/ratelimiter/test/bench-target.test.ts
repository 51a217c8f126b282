// The ratelimiter's BenchTarget as the knee finder reads it: its series out of a real-shaped
// /metrics scrape (the limiter's counters, the degraded one absent until a decision degrades), and
// its own saturation signal (decisions missing the deadline) judged with the bench's.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { deriveSamples, resourceSample } from '@faultline/bench'
import { assertBenchTargetLoads, targetTimeline } from '@faultline/bench/testing'
import target, { benchRulesFile } from '../src/bench-target.ts'

const { t0, at, series, judge, scraped } = targetTimeline(target)

test('the bench finds this target by the system name, with its scripts and rules in place', async () => {
  await assertBenchTargetLoads(target)
  assert.ok(existsSync(benchRulesFile))
})

test('its series are read from /metrics as rates, summed over labels; degraded is absent until one degrades', () => {
  const scrape = (allowed: number, degraded: number | undefined, attempts: number) =>
    `ratelimit_decisions_total{outcome="allowed",service="ratelimiter"} ${allowed}
ratelimit_decisions_total{outcome="denied",service="ratelimiter"} 10
${degraded === undefined ? '' : `ratelimit_degraded_total{reason="deadline"} ${degraded}`}
ratelimit_redis_attempts_total ${attempts}
`
  const raw = [
    scraped(0, scrape(1000, undefined, 1010)),
    scraped(2000, scrape(3000, undefined, 3010)),
    scraped(3000, scrape(4000, 5, 4010)),
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
