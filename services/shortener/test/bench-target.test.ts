// The shortener's BenchTarget as the knee finder reads it: its series out of a real-shaped
// /metrics scrape, and its own saturation signal (the click spool) judged with the bench's.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { deriveSamples } from '@faultline/bench'
import { assertBenchTargetLoads, targetTimeline } from '@faultline/bench/testing'
import target from '../src/bench-target.ts'

const { at, series, judge, scraped } = targetTimeline(target)

test('the bench finds this target by the system name, with its scripts in place', async () => {
  await assertBenchTargetLoads(target)
})

test('its series are read from /metrics: the spool as a gauge, clicks and cache hits as rates', () => {
  const scrape = (spool: number, hits: number, dropped: number) =>
    `shortener_clicks_spooled ${spool}
shortener_cache_hits_total{kind="link"} ${hits}
shortener_cache_hits_total{kind="stale"} 10
shortener_clicks_dropped_total{reason="spool_full"} ${dropped}
pg_pool_requests_waiting{pool="primary"} 0
`
  const raw = [scraped(0, scrape(100, 990, 0)), scraped(2000, scrape(300, 2990, 8))]
  const [d] = deriveSamples(raw, target.metrics)
  assert.equal(d?.system.spool, 300)
  assert.equal(d?.system.cacheHits, 1000)
  assert.equal(d?.system.clicksDropped, 4)
  assert.equal(d?.system.dbLookups, null)
  assert.equal(d?.poolWaiting, 0)
})

test('a click spool holding more than a batch, or dropping for a full spool, is the Kafka producer', () => {
  const growing = series(25, (i) => ({
    system: { spool: i < 10 ? 200 : 200 + (i - 10) * 1000 },
    serviceCpu: 0.6,
  }))
  assert.equal(judge(growing)?.id, 'kafka-producer')
  assert.equal(judge(growing)?.crossedAtMs, at(15))
  // A spool bounded below one batch (CLICK_SPOOL_MAX 1 000) that fills and drops: saturated all the same.
  const dropping = series(25, (i) => ({
    system: { spool: i >= 13 ? 1000 : 200, clicksDropped: i >= 13 ? 500 : 0 },
  }))
  assert.equal(judge(dropping)?.crossedAtMs, at(13))
})

test("the spool's sawtooth between flushes is not a backlog, however it is sampled", () => {
  // Sampled once a second, a spool flushed five times a second reads anywhere between 0 and
  // rate × 200 ms: two samples 3 s apart can differ by more than a thousand events.
  const sawtooth = series(25, (i) => ({
    system: { spool: [80, 1102, 300, 950, 40][i % 5] as number },
    serviceCpu: 0.4,
  }))
  assert.equal(judge(sawtooth), null)
})
