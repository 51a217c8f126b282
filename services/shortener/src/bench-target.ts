/**
 * The shortener as the bench measures it (`node packages/bench/src/knee.ts --system shortener`,
 * the default): what to start, what a measured request is, what it reads, the ceiling it is held
 * to, and the queue of its own that can saturate first. The bench finds this file by convention
 * (services/<system>/src/bench-target.ts); see packages/bench/src/target.ts for the contract.
 */
import { join } from 'node:path'
import { defineBenchTarget, named, startNodeSystem, warmPaths } from '@faultline/bench'
import { repoRoot } from '@faultline/infra'
import { inParallel } from '@faultline/resilience'

/**
 * Its own Postgres schema, Redis key prefix, Kafka topic and consumer group, so a benchmark never
 * reads or disturbs the state of a test or an experiment on the same infrastructure — and vice
 * versa.
 */
export const benchIsolationEnv = {
  DB_SCHEMA: 'shortener_bench',
  REDIS_KEY_PREFIX: 'bench:',
  CLICKS_TOPIC: 'clicks-bench',
  CLICKS_GROUP_ID: 'shortener-bench',
} as const

/** Events in the click spool that mean a backlog: one full batch (CLICK_BATCH_MAX's default). */
const spoolBacklog = 5000

/**
 * POST /api/links `count` times (16 at a time) and return the codes; throws when more than 1 %
 * failed, with the first failure.
 */
export async function createCodes(baseUrl: string, count: number): Promise<string[]> {
  const runId = Date.now().toString(36)
  let firstError: string | undefined
  const results = await inParallel(count, 16, async (i) => {
    try {
      const res = await fetch(`${baseUrl}/api/links`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: `https://example.com/bench/${runId}/${i}` }),
        signal: AbortSignal.timeout(10_000),
      })
      const text = await res.text()
      if (res.status !== 201) {
        firstError ??= `POST /api/links → ${res.status} ${text.slice(0, 200)}`
        return undefined
      }
      const code = (JSON.parse(text) as { code?: unknown }).code
      return typeof code === 'string' ? code : undefined
    } catch (err) {
      firstError ??= `POST /api/links: ${(err as Error).message}`
      return undefined
    }
  })
  const codes = results.filter((c): c is string => c !== undefined)
  if (codes.length < count * 0.99) {
    throw new Error(
      `created only ${codes.length} of ${count} links at ${baseUrl}: ${firstError ?? 'unknown error'}`,
    )
  }
  return codes
}

export default defineBenchTarget({
  name: 'shortener',
  request:
    'the redirect of a cached code (GET /{code}: a cache hit whose click goes through the spool to Kafka, consumed by the worker into Postgres)',
  path: '/{code}',
  scripts: {
    stepRamp: 'loadtests/shortener/step-ramp.js',
    throughput: 'loadtests/shortener/throughput.js',
  },
  // Away from the service's default 3000, which tests and experiments use.
  port: 3300,
  seedCount: { knee: 1000, bench: 100 },
  ceiling: {
    targetRatio: 0.6,
    why: "the price of the redirect's features (cache lookup, click recorded) over the framework itself",
  },
  p99ObjectiveMs: 10,
  start: (options) =>
    startNodeSystem(
      {
        name: 'shortener',
        apiEntry: join(repoRoot, 'services', 'shortener', 'src', 'server.ts'),
        workerEntry: join(repoRoot, 'services', 'shortener', 'src', 'worker.ts'),
        env: benchIsolationEnv,
      },
      options,
    ),
  async seed(baseUrl, count, log) {
    log(`creating and warming ${count} links`)
    const codes = await createCodes(baseUrl, count)
    const statuses = await warmPaths(
      baseUrl,
      codes.map((code) => `/${code}`),
    )
    log(`warm-up statuses ${JSON.stringify(statuses)}`)
    return codes
  },
  metrics: {
    spool: { kind: 'gauge', select: [named('shortener_clicks_spooled')] },
    clicksDropped: { kind: 'counter', select: [named('shortener_clicks_dropped_total')] },
    clicksRecorded: { kind: 'counter', select: [named('shortener_clicks_recorded_total')] },
    clicksPublished: { kind: 'counter', select: [named('shortener_clicks_published_total')] },
    cacheHits: { kind: 'counter', select: [named('shortener_cache_hits_total')] },
    cacheMisses: { kind: 'counter', select: [named('shortener_cache_misses_total')] },
    dbLookups: { kind: 'counter', select: [named('shortener_db_lookups_total')] },
  },
  signals: [
    {
      // A flusher that keeps up empties the spool every CLICK_FLUSH_INTERVAL_MS, so between
      // flushes it holds rate × interval (≈ 1 100 at 5 500/s): a sawtooth, not a backlog. Growth
      // between two once-a-second samples cannot tell the two apart (it named the producer at
      // 5 500/s while the spool never held a batch); a level above a whole batch can.
      id: 'kafka-producer',
      component: 'Kafka producer (click spool backlog)',
      threshold: spoolBacklog,
      unit: 'events',
      value: (s) => {
        const spool = s.system.spool ?? null
        const dropped = s.system.clicksDropped ?? null
        // Dropping because the spool is full is saturation by definition, whatever the level.
        if (dropped !== null && dropped > 0) return Math.max(spool ?? 0, spoolBacklog)
        return spool
      },
    },
  ],
  stepColumns: [['spool', 'spool max']],
  runCounters: [
    ['cacheMisses', 'cache misses'],
    ['clicksRecorded', 'clicks recorded'],
    ['clicksPublished', 'clicks published'],
  ],
})
