#!/usr/bin/env node
/**
 * Push vs pull vs hybrid fan-out, measured at several FANOUT_CELEBRITY_THRESHOLD values (issue 11:
 * "the docs show the trade-off measured at several thresholds"). A benchmark: it prints a table
 * and never fails on its numbers.
 *
 * One power-law graph (the seed code, COPY) for every threshold, then per threshold the same posts
 * by the same authors through the real path (API → outbox → relay → Kafka → worker), and the same
 * readers' first timeline page (threshold-run.ts). Lowering the threshold trades write
 * amplification (deliveries, worker CPU, timeline memory, post → delivered) for read-time merge
 * cost (recent sets merged per read, API CPU and latency per read).
 *
 *   flock /tmp/faultline-infra.lock node services/feed/bench/thresholds.ts
 *   flock /tmp/faultline-infra.lock node services/feed/bench/thresholds.ts --thresholds none,5000,500,50,pull --posts 600
 *
 * Writes results/feed/thresholds/<time>/{summary.json,table.md} (and each threshold's process and
 * k6 logs). Everything it created (schema feed_bench_thr, keys feed-bench-thr:*, topic
 * posts-bench-thr and its group) is removed at the end.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { linkLatest, machineInfo, machineLine, resultsDir, writeJson } from '@faultline/bench'
import { directEnv, ensureK6 } from '@faultline/infra'
import { createPgPool, createRedis } from '@faultline/kit/clients'
import { seededRandom } from '../src/seed/random.ts'
import { parseThresholdArgs, thresholdsUsage } from './threshold-args.ts'
import {
  decadeLabel,
  drawAuthors,
  followerDecades,
  indexesByDecade,
  postsByDecade,
  pulledAuthors,
  sampleIndexes,
  thresholdLabel,
  thresholdValue,
  uniformDeliveriesPerPost,
} from './threshold-plan.ts'
import { renderThresholdReport } from './threshold-report.ts'
import { runThreshold, type ThresholdRow } from './threshold-run.ts'
import { removeThresholdState, type StateClients, seedThresholdGraph } from './threshold-state.ts'

const parsed = parseThresholdArgs(process.argv.slice(2))
if ('help' in parsed) {
  process.stdout.write(`${thresholdsUsage}\n`)
  process.exit(0)
}
if ('errors' in parsed) {
  for (const e of parsed.errors) process.stderr.write(`thresholds: ${e}\n`)
  process.exit(2)
}
const settings = parsed.settings
const dir = resultsDir('feed', 'thresholds', settings.out)
const startedMs = Date.now()
const log = (line: string) =>
  process.stdout.write(`[thresholds +${Math.round((Date.now() - startedMs) / 1000)}s] ${line}\n`)
const machine = await machineInfo()
log(`machine: ${machineLine(machine)}`)
log(`results: ${dir}`)
await ensureK6()

const env = directEnv()
const clients: StateClients = {
  pg: createPgPool(env.DATABASE_URL as string, { max: 4, applicationName: 'feed-threshold-bench' }),
  redis: createRedis(env.REDIS_URL as string, { name: 'feed-threshold-bench', commandTimeoutMs: 10_000 }),
  kafkaBrokers: (env.KAFKA_BROKERS as string).split(','),
}

try {
  log(
    `seeding ${settings.users} users (${settings.celebrities} × ${settings.celebrityFollowers} followers, mean ${settings.meanFollows} power-law follows)`,
  )
  const seeded = await seedThresholdGraph(clients, {
    users: settings.users,
    celebrities: settings.celebrities,
    celebrityFollowers: settings.celebrityFollowers,
    meanFollows: settings.meanFollows,
    randomSeed: settings.seed,
  })
  const counts = seeded.followerCounts
  const maxFollowers = counts.reduce((m, n) => Math.max(m, n), 0)
  const decades = Object.fromEntries(
    indexesByDecade(counts).map((ids, d) => [
      decadeLabel(followerDecades[d] as [number, number]),
      ids.length,
    ]),
  )
  log(
    `seeded in ${Object.values(seeded.timingsMs).reduce((a, b) => a + b, 0)} ms: ${seeded.follows} follows, authors by followers ${JSON.stringify(decades)}`,
  )
  const random = seededRandom(settings.seed + 7)
  const authorIndexes = drawAuthors(counts, settings.posts, settings.mix, random)
  const postAuthors = authorIndexes.map((i) => seeded.userIds[i] as string)
  const readers = sampleIndexes(seeded.userIds.length, settings.readers, random).map(
    (i) => seeded.userIds[i] as string,
  )
  const rows: ThresholdRow[] = []
  for (const spec of settings.thresholds) {
    const threshold = thresholdValue(spec, maxFollowers)
    rows.push(
      await runThreshold({
        label: thresholdLabel(spec, maxFollowers),
        threshold,
        authorsPulled: pulledAuthors(counts, threshold),
        uniformMixDeliveriesPerPost: uniformDeliveriesPerPost(counts, threshold),
        clients,
        userIds: seeded.userIds,
        postAuthors,
        readers,
        postRate: settings.postRate,
        readRate: settings.readRate,
        readSeconds: settings.readSeconds,
        timeoutMs: settings.timeoutMs,
        port: settings.port,
        dir,
        log,
      }),
    )
  }
  const input = {
    command: `node services/feed/bench/thresholds.ts ${process.argv.slice(2).join(' ')}`.trim(),
    machine: machineLine(machine),
    graph: { users: settings.users, follows: seeded.follows, maxFollowers, decades },
    mix: settings.mix,
    postsByDecade: postsByDecade(counts, authorIndexes),
    postRate: settings.postRate,
    readers: readers.length,
    rows,
  }
  writeJson(join(dir, 'summary.json'), {
    ...input,
    machineInfo: machine,
    settings,
    seedTimingsMs: seeded.timingsMs,
  })
  const markdown = renderThresholdReport(input)
  writeFileSync(join(dir, 'table.md'), markdown)
  linkLatest(dir)
  process.stdout.write(`\n${markdown}\n`)
} finally {
  await removeThresholdState(clients).catch((err: Error) => log(`cleanup: ${err.message}`))
  clients.redis.disconnect()
  await clients.pg.end()
}
