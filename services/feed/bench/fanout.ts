#!/usr/bin/env node
/**
 * The feed's fan-out benchmark (a measurement, not a test: it prints whether issue 11's targets
 * were met and never fails on them). In one run, on one machine, over one graph:
 *
 *   1. ceiling     deliveries/s of TimelineStore.pushToActive alone — the worker's own client kind
 *                  and pipeline size, the same capped inserts, nothing else;
 *   2. burst       the same number of posts through the real path (API → outbox → relay → Kafka
 *                  → worker): deliveries/s from feed_fanout_deliveries_total, and the ratio to
 *                  the ceiling (target ≥ 0.5×); the max posting rate is the lower of the API's
 *                  posts/s and the posts/s whose fan-out completed;
 *   3. at half     posts at half that max for --rate-seconds, authors with --followers (≤ 10k)
 *                  followers: post → delivered p99 from feed_post_delivered_seconds (target ≤ 2 s);
 *   4. reads       timeline read p99 at half the read knee (target ≤ 10 ms), see read-latency.ts.
 *
 *   node services/feed/bench/fanout.ts
 *   flock /tmp/faultline-infra.lock node services/feed/bench/fanout.ts --authors 20 --followers 5000 --read-knee 1800
 *
 * Writes results/feed/fanout/<timestamp>/{fanout.json,fanout.md}.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { linkLatest, machineInfo, machineLine, resultsDir, writeJson } from '@faultline/bench'
import { directEnv, ensureK6 } from '@faultline/infra'
import { createPgPool, createRedis } from '@faultline/kit/clients'
import { benchIsolationEnv, type FeedProcesses, startFeed } from '../src/bench-target.ts'
import { Keys } from '../src/keys.ts'
import { TimelineStore } from '../src/timeline-store.ts'
import { createGraph, dropTimelines, type FanoutGraph, removeGraph, resetTimelines } from './fanout-graph.ts'
import { renderFanoutReport } from './fanout-report.ts'
import { measureAtRate, measureBurst, measureCeiling } from './fanout-runs.ts'
import { measureReadAtHalfKnee } from './read-latency.ts'

const usage = `Usage: node services/feed/bench/fanout.ts [options]

Fan-out deliveries/s against a Redis ceiling measured in the same run, post → delivered p99 at half
the max posting rate, timeline read p99 at half the read knee. Needs the native infra
(./faultline infra up); run it under the infra lock, alone. About 2 minutes with the defaults.

Graph (written straight into Postgres, timelines created empty in Redis, removed at the end):
  --authors N          authors (default 20)
  --followers N        followers per author, at most 10000 (default 2000)
  --pool N             distinct followers shared by the authors (default authors × followers / 2)
Runs:
  --posts N            posts for the ceiling and for the burst (default 100)
  --concurrency N      API requests in flight during the burst (default 16)
  --pipeline N         FANOUT_PIPELINE for the worker and the ceiling (default 1000, the config's)
  --rate-seconds N     length of the half-max posting run (default 20)
  --read-knee N        the read knee from knee.ts (default: a closed-model maximum stands in)
  --read-seconds N     length of each read run (default 10)
  --skip-reads         no read runs
  --timeout-s N        longest wait for the fan-out to drain, per run (default 120)
System (default: start API + relay + worker on loopback, schema ${benchIsolationEnv.DB_SCHEMA}, prefix ${benchIsolationEnv.REDIS_KEY_PREFIX}, direct connections):
  --port N             the started API's port (default 3331)
  --api-url URL        use a running API instead (e.g. ./faultline up feed's http://127.0.0.1:18100)
  --worker-url URL     and its worker's probes/metrics (./faultline up feed's http://127.0.0.1:18102)
  --schema S           the running system's DB_SCHEMA (default feed) — with --api-url only
  --key-prefix P       the running system's REDIS_KEY_PREFIX (default feed) — with --api-url only
  --out DIR            results root (default <repo>/results)
  -h, --help

With --api-url the running system keeps its own settings (FANOUT_PIPELINE, the celebrity threshold:
keep --followers under it), and this run adds users, follows and posts to its schema.`

const { values } = parseArgs({
  options: {
    authors: { type: 'string', default: '20' },
    followers: { type: 'string', default: '2000' },
    pool: { type: 'string' },
    posts: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '16' },
    pipeline: { type: 'string', default: '1000' },
    'rate-seconds': { type: 'string', default: '20' },
    'read-knee': { type: 'string' },
    'read-seconds': { type: 'string', default: '10' },
    'skip-reads': { type: 'boolean', default: false },
    'timeout-s': { type: 'string', default: '120' },
    port: { type: 'string', default: '3331' },
    'api-url': { type: 'string' },
    'worker-url': { type: 'string' },
    schema: { type: 'string', default: 'feed' },
    'key-prefix': { type: 'string', default: 'feed' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (values.help) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}

function fail(message: string): never {
  process.stderr.write(`fanout: ${message}\n`)
  process.exit(2)
}
function positive(name: string, raw: string | undefined, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < 1 || n > max)
    fail(`--${name} must be an integer in 1..${max}, got ${raw}`)
  return n
}
const loopback = /^http:\/\/(127\.\d+\.\d+\.\d+|localhost)(:\d+)?\/?$/
const external = values['api-url'] !== undefined
if (external !== (values['worker-url'] !== undefined)) fail('--api-url and --worker-url go together')
for (const url of [values['api-url'], values['worker-url']]) {
  if (url !== undefined && !loopback.test(url)) fail(`${url}: only loopback URLs`)
}
const authors = positive('authors', values.authors, 1000)
const followers = positive('followers', values.followers, 10_000)
const settings = {
  authors,
  followers,
  pool: positive(
    'pool',
    values.pool ?? String(Math.max(followers, Math.ceil((authors * followers) / 2))),
    200_000,
  ),
  posts: positive('posts', values.posts, 100_000),
  concurrency: positive('concurrency', values.concurrency, 256),
  pipeline: positive('pipeline', values.pipeline, 100_000),
  rateSeconds: positive('rate-seconds', values['rate-seconds'], 300),
  readKnee: values['read-knee'] === undefined ? undefined : positive('read-knee', values['read-knee']),
  readSeconds: positive('read-seconds', values['read-seconds'], 120),
  timeoutMs: positive('timeout-s', values['timeout-s'], 900) * 1000,
  schema: external ? (values.schema as string) : benchIsolationEnv.DB_SCHEMA,
  keyPrefix: external ? (values['key-prefix'] as string) : benchIsolationEnv.REDIS_KEY_PREFIX,
}

const dir = resultsDir('feed', 'fanout', values.out)
const log = (line: string) => process.stdout.write(`[fanout] ${line}\n`)
const machine = await machineInfo()
log(`machine: ${machineLine(machine)}`)
log(`results: ${dir}`)
await ensureK6()

let system: FeedProcesses | undefined
if (!external) {
  log('starting the feed (API, worker, relay)')
  system = await startFeed(
    { port: positive('port', values.port, 65_535), logDir: dir, env: { LOG_LEVEL: 'warn' } },
    // Every author here is a regular one (≤ 10k followers): the threshold above any of them.
    {
      FANOUT_PIPELINE: String(settings.pipeline),
      FANOUT_CELEBRITY_THRESHOLD: String(settings.followers + 1),
    },
  )
}
const urls = {
  api: (system?.baseUrl ?? values['api-url'] ?? '').replace(/\/+$/, ''),
  worker: (system?.workerUrl ?? values['worker-url'] ?? '').replace(/\/+$/, ''),
}
const env = directEnv()
const db = createPgPool(env.DATABASE_URL as string, {
  max: 2,
  searchPath: settings.schema,
  applicationName: 'feed-fanout-bench',
})
// The worker's client kind (kit createRedis, direct), so the ceiling pays what the worker pays per command.
const redis = createRedis(env.REDIS_URL as string, { name: 'feed-fanout-bench', commandTimeoutMs: 5000 })
const store = new TimelineStore(redis, {
  keys: new Keys(settings.keyPrefix),
  timelineCap: 800,
  authorRecentCap: 200,
  activeWindowMs: 7 * 86_400_000,
})

let graph: FanoutGraph | undefined
try {
  const runId = Date.now().toString(36)
  log(`graph: ${settings.authors} authors × ${settings.followers} followers over ${settings.pool} users`)
  graph = await createGraph(db, { ...settings, runId })
  const users = graph.users
  await resetTimelines(redis, store, users)
  log(`ceiling: ${settings.posts} posts pushed by TimelineStore.pushToActive alone`)
  const ceiling = await measureCeiling(store, graph, settings.posts, settings.pipeline)
  await resetTimelines(redis, store, users)
  log(`burst: ${settings.posts} posts through the API (${settings.concurrency} in flight)`)
  const burst = await measureBurst(urls, graph, settings.posts, settings)
  const maxPostingRate = Math.min(burst.apiPostsPerSec, burst.fanoutPostsPerSec)
  log(
    `at half the max posting rate: ${(maxPostingRate / 2).toFixed(1)} posts/s for ${settings.rateSeconds} s`,
  )
  const atHalf = await measureAtRate(urls, graph, {
    ratePerSec: maxPostingRate / 2,
    seconds: settings.rateSeconds,
    maxInFlight: 256,
    timeoutMs: settings.timeoutMs,
  })
  const readers = (graph.followersOf.get(graph.authors[0] as string) ?? []).slice(0, 1000)
  const reads = values['skip-reads']
    ? undefined
    : await measureReadAtHalfKnee({
        apiUrl: urls.api,
        users: readers,
        readKnee: settings.readKnee,
        durationS: settings.readSeconds,
        dir,
        log,
      })
  const result = { machine, settings, external, ceiling, burst, maxPostingRate, atHalf, reads }
  writeJson(join(dir, 'fanout.json'), result)
  const markdown = renderFanoutReport(result, machineLine(machine), process.argv.slice(2).join(' '))
  writeFileSync(join(dir, 'fanout.md'), markdown)
  linkLatest(dir)
  process.stdout.write(`\n${markdown}\n`)
} finally {
  // The processes first: a worker still draining would write into timelines being removed.
  await system?.stop()
  if (graph) {
    await dropTimelines(redis, store, graph.users).catch((err: Error) => log(`cleanup: ${err.message}`))
    await removeGraph(db, graph).catch((err: Error) => log(`cleanup: ${err.message}`))
  }
  redis.disconnect()
  await db.end()
}
