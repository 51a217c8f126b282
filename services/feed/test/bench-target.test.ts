// The feed's BenchTarget as the knee finder reads it: its series out of a real-shaped /metrics
// scrape (the reader's counters; the 206 series absent until a read answers 206), its own
// saturation signals (reads answered 206 by rebuild admission; Postgres CPU) judged with the
// bench's generic ones, and the seed's graph shape.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { deriveSamples, resourceSample } from '@faultline/bench'
import { assertBenchTargetLoads, targetTimeline } from '@faultline/bench/testing'
import { parsePrometheusText } from '@faultline/measure'
import target, { benchIsolationEnv, powerLawPairs } from '../src/bench-target.ts'

const { t0, at, series, judge, scraped } = targetTimeline(target)

test('the bench finds this target by the system name, with its scripts in place and its own state', async () => {
  await assertBenchTargetLoads(target)
  // Never the schema, prefix, topic or group of ./faultline up feed (the config defaults).
  assert.notEqual(benchIsolationEnv.DB_SCHEMA, 'feed')
  assert.notEqual(benchIsolationEnv.REDIS_KEY_PREFIX, 'feed')
  assert.notEqual(benchIsolationEnv.POSTS_TOPIC, 'posts')
  assert.notEqual(benchIsolationEnv.FANOUT_GROUP_ID, 'feed-fanout')
})

test('its series are read from /metrics as rates, summed over labels; 206s are absent until one happens', () => {
  const scrape = (hits: number, rebuilding: number | undefined, misses: number) =>
    `feed_timeline_reads_total{result="hit"} ${hits}
feed_timeline_reads_total{result="rebuilt"} 10
${rebuilding === undefined ? '' : `feed_timeline_reads_total{result="rebuilding"} ${rebuilding}`}
feed_hydrate_misses_total ${misses}
feed_db_queries_total{pool="primary",op="follow"} 4
feed_db_queries_total{pool="replica",op="hydrate"} 6
pg_pool_requests_waiting{pool="primary"} 0
pg_pool_requests_waiting{pool="replica"} 2
`
  const raw = [
    scraped(0, scrape(1000, undefined, 0)),
    scraped(2000, scrape(3000, undefined, 40)),
    scraped(3000, scrape(4000, 50, 40)),
  ]
  const [first, second] = deriveSamples(raw, target.metrics)
  assert.equal(first?.system.reads, 1000)
  assert.equal(first?.system.hydrateMisses, 20)
  assert.equal(first?.system.readsRebuilding, null)
  assert.equal(first?.system.rebuilds, null)
  // Both pools' waiters count: a read waits on the replica as much as a write on the primary.
  assert.equal(first?.poolWaiting, 2)
  const rebuilds = target.signals.find((s) => s.id === 'timeline-rebuilds')
  // No 206 series yet: the share is 0, measured, not unknown.
  assert.equal(first && rebuilds?.value(first), 0)
  // The series appeared between the samples: no rate for that second (it did not exist before).
  assert.equal(second?.system.readsRebuilding, null)
  assert.equal(rebuilds?.value(resourceSample(t0, { system: { reads: null } })), null)
})

test('reads answered 206 for two seconds name the rebuilds; a stray second does not', () => {
  const deferring = series(25, (i) => ({
    system: { reads: 2000, readsRebuilding: i >= 12 ? 100 : 0 },
    serviceCpu: 0.5,
  }))
  assert.equal(judge(deferring)?.id, 'timeline-rebuilds')
  assert.equal(judge(deferring)?.crossedAtMs, at(12))
  const stray = series(25, (i) => ({ system: { reads: 2000, readsRebuilding: i === 12 ? 100 : 0 } }))
  assert.equal(judge(stray), null)
})

test('Postgres busy near a core is named Postgres; the API event loop pinned first is the API', () => {
  const postgres = series(25, (i) => ({ cpuByGroup: { postgres: i >= 14 ? 1.2 : 0.2 }, serviceCpu: 0.6 }))
  assert.equal(judge(postgres)?.id, 'postgres-cpu')
  assert.equal(judge(postgres)?.crossedAtMs, at(14))
  const api = series(25, (i) => ({
    serviceCpu: i >= 11 ? 0.97 : 0.5,
    cpuByGroup: { postgres: i >= 13 ? 1.2 : 0.2 },
  }))
  assert.equal(judge(api)?.id, 'service-cpu')
  const redis = series(25, (i) => ({ redisCpu: i >= 12 ? 0.95 : 0.3, serviceCpu: 0.7 }))
  assert.equal(judge(redis)?.id, 'redis-cpu')
})

test('the seed graph is a reproducible power law: no self-follows, no duplicates, the head followed most', () => {
  const users = Array.from({ length: 1000 }, (_, i) => String(i + 1))
  const pairs = powerLawPairs(users, 10)
  assert.deepEqual(powerLawPairs(users, 10), pairs)
  assert.equal(pairs.length, 10_000)
  assert.ok(pairs.every(([a, b]) => a !== b))
  assert.equal(new Set(pairs.map(([a, b]) => `${a}>${b}`)).size, pairs.length)
  const followers = new Map<string, number>()
  for (const [, b] of pairs) followers.set(b, (followers.get(b) ?? 0) + 1)
  const head = followers.get('1') ?? 0
  const median = [...followers.values()].sort((a, b) => a - b)[Math.floor(followers.size / 2)] ?? 0
  assert.ok(head > 20 * median, `head ${head} vs median ${median}`)
})

test("the fan-out benchmark reads post → delivered from the worker's histogram growth", async () => {
  const { histogramCount, histogramQuantile, workerCounters } = await import('../bench/worker-metrics.ts')
  const scrape = (counts: [string, number][], deliveries: number) =>
    workerCounters(
      parsePrometheusText(
        `${counts.map(([le, n]) => `feed_post_delivered_seconds_bucket{class="regular",le="${le}"} ${n}`).join('\n')}
feed_post_delivered_seconds_bucket{class="celebrity",le="+Inf"} 99
feed_fanout_deliveries_total{result="added"} ${deliveries}
feed_fanout_deliveries_total{result="inactive"} 5
feed_fanout_events_total{type="created",class="regular"} 7
feed_fanout_events_total{type="deleted",class="regular"} 3
`,
      ),
    )
  const before = scrape(
    [
      ['0.1', 10],
      ['1', 10],
      ['2', 10],
      ['+Inf', 10],
    ],
    100,
  )
  // 100 new observations: 50 under 0.1 s, 40 in (0.1, 1], 10 in (1, 2].
  const after = scrape(
    [
      ['0.1', 60],
      ['1', 100],
      ['2', 110],
      ['+Inf', 110],
    ],
    300,
  )
  assert.equal(after.deliveries, 305)
  assert.equal(after.created, 7)
  assert.equal(histogramCount(before.deliveredBuckets, after.deliveredBuckets), 100)
  assert.equal(histogramQuantile(before.deliveredBuckets, after.deliveredBuckets, 0.5), 0.1)
  // Rank 99 is the 9th of 10 in (1, 2]: 1 + 0.9.
  assert.ok(
    Math.abs((histogramQuantile(before.deliveredBuckets, after.deliveredBuckets, 0.99) ?? 0) - 1.9) < 1e-9,
  )
  assert.equal(histogramQuantile(after.deliveredBuckets, after.deliveredBuckets, 0.99), null)
  // Past the last finite bound the histogram only gives a floor.
  const slow = scrape(
    [
      ['0.1', 10],
      ['1', 10],
      ['2', 10],
      ['+Inf', 20],
    ],
    100,
  )
  assert.equal(histogramQuantile(before.deliveredBuckets, slow.deliveredBuckets, 0.99), 2)
})
