// The notification service's BenchTarget as the knee finder and bench/e2e.ts read it: found by
// name with its scripts in place and its own state; its series out of a real-shaped /metrics
// scrape; its saturation signals (a pipeline process near a core, Postgres, the two backlogs)
// judged with the bench's generic ones; and the end-to-end benchmark's rate over the middle 80 %.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { deriveSamples } from '@faultline/bench'
import { assertBenchTargetLoads, targetTimeline } from '@faultline/bench/testing'
import { middleRate } from '../bench/pipeline-probe.ts'
import target, {
  benchIsolationEnv,
  benchLoadEnv,
  benchRecipient,
  pipelineRoles,
} from '../src/bench-target.ts'
import { configSchema } from '../src/config.ts'

const { t0, at, series, judge, scraped } = targetTimeline(target)

const configDefault = (name: keyof typeof configSchema.properties) =>
  (configSchema.properties[name] as unknown as { default: unknown }).default

test('the bench finds this target by the system name, with its scripts in place and its own state', async () => {
  await assertBenchTargetLoads(target)
  // Never the schema, prefixes, topic or group of ./faultline up notifications (the config defaults).
  for (const name of Object.keys(benchIsolationEnv) as (keyof typeof benchIsolationEnv)[]) {
    assert.notEqual(benchIsolationEnv[name], configDefault(name), name)
  }
  assert.deepEqual([...pipelineRoles], ['providers', 'relay', 'router', 'worker'])
})

test('the load env stays inside what the router accepts (the sliding log allows at most 10 000 per window)', () => {
  const limit = Number(benchLoadEnv.RATE_LIMIT_PER_RECIPIENT)
  assert.ok(limit > Number(configDefault('RATE_LIMIT_PER_RECIPIENT')))
  assert.ok(limit <= 10_000)
})

test('a bench recipient passes the API rules: E.164 phone, an email, a push token, UTC', () => {
  for (const i of [0, 1, 8_999_999, 9_000_000, 123_456_789]) {
    const r = benchRecipient(i)
    assert.match(String(r.phone), /^\+[1-9][0-9]{6,14}$/, String(i))
    assert.match(String(r.email), /^[^@\s]+@[^@\s]+\.[^@\s]+$/)
    assert.equal(r.timezone, 'UTC')
  }
})

test('its series are read from /metrics as rates, summed over labels', () => {
  const scrape = (normal: number, critical: number, replays: number) =>
    `notifications_accepted_total{priority="normal"} ${normal}
notifications_accepted_total{priority="critical"} ${critical}
notifications_idempotency_total{outcome="new"} ${normal + critical}
notifications_idempotency_total{outcome="replay"} ${replays}
`
  const [first] = deriveSamples(
    [scraped(0, scrape(100, 10, 0)), scraped(2000, scrape(300, 30, 8))],
    target.metrics,
  )
  assert.equal(first?.system.accepted, 110)
  assert.equal(first?.system.replays, 4)
})

test('jobs piling up in the channel queues name the channel workers; a short spike does not', () => {
  const behind = series(25, (i) => ({ system: { queueWaiting: i >= 12 ? 5000 : 100 }, hostCpu: 0.7 }))
  assert.equal(judge(behind)?.id, 'queue-waiting')
  assert.equal(judge(behind)?.crossedAtMs, at(12))
  const blip = series(25, (i) => ({ system: { queueWaiting: i === 12 ? 5000 : 100 } }))
  assert.equal(judge(blip), null)
})

test('an outbox backlog names the relay; a pipeline process pinned near a core is named by its role', () => {
  const relay = series(25, (i) => ({ system: { outboxBacklog: i >= 11 ? 4000 : 0, queueWaiting: 0 } }))
  assert.equal(judge(relay)?.id, 'outbox-backlog')
  const router = series(25, (i) => ({ cpuByGroup: { router: i >= 13 ? 0.97 : 0.3, worker: 0.4 } }))
  assert.equal(judge(router)?.id, 'router-cpu')
  const postgres = series(25, (i) => ({ cpuByGroup: { postgres: i >= 14 ? 1.3 : 0.4 } }))
  assert.equal(judge(postgres)?.id, 'postgres-cpu')
  // The API's event loop first is the API (the generic signal), before Postgres a second later.
  const api = series(25, (i) => ({
    serviceCpu: i >= 11 ? 0.95 : 0.4,
    cpuByGroup: { postgres: i >= 12 ? 1.2 : 0.2 },
  }))
  assert.equal(judge(api)?.id, 'service-cpu')
  assert.equal(t0, at(0))
})

test('the end-to-end rate is taken between 10 % and 90 % of the expected count, interpolated', () => {
  // 1 000 events: 100 at t = 1 s, 900 at t = 5 s (linear between the points in between).
  const points = [
    { tMs: 0, count: 50 },
    { tMs: 1000, count: 150 },
    { tMs: 5000, count: 950 },
    { tMs: 9000, count: 1050 },
  ]
  const rate = middleRate(points, 1000)
  assert.ok(rate !== null)
  assert.equal(rate.seconds, 4)
  assert.equal(rate.perSecond, 200)
  // A run that never reached 90 % has no rate, not a made-up one.
  assert.equal(middleRate(points.slice(0, 2), 1000), null)
})
