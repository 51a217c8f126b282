/**
 * The seed command: a realistic feed graph in Postgres, fast (COPY). See `--help` (src/seed/cli.ts)
 * and docs/feed.md for how long the default run takes.
 *
 *   node services/feed/scripts/seed.ts [--users 100000] [--celebrities 3] [--reset] …
 */
import { createPgPool, createRedis } from '@faultline/kit/clients'
import { createLogger } from '@faultline/kit/logging'
import { ConfigError, loadConfig } from '../src/config.ts'
import { FeedFixture } from '../src/fixture.ts'
import { runMigrations } from '../src/migrate.ts'
import { parseSeedArgs, seedSummary, seedUsage } from '../src/seed/cli.ts'
import { createSeedProgress } from '../src/seed/progress.ts'
import { SeedError, seedGraph } from '../src/seed/seed-graph.ts'

const parsed = parseSeedArgs(process.argv.slice(2))
if ('errors' in parsed) {
  for (const e of parsed.errors) process.stderr.write(`seed: ${e}\n`)
  process.stderr.write('seed: --help lists the options\n')
  process.exit(2)
}
if (parsed.help) {
  process.stdout.write(seedUsage)
  process.exit(0)
}
const { spec, reset } = parsed.command

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig()
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`)
  process.exit(2)
}
const schema = parsed.command.schema ?? config.dbSchema
const log = createLogger({ name: 'feed-seed', level: 'warn' })
const pool = createPgPool(config.databaseUrl, { max: 2, applicationName: 'feed-seed', log })
const progress = createSeedProgress()
const startedAt = performance.now()
try {
  await runMigrations({ pool, schema, log })
  if (reset) {
    const redis = createRedis(config.redisUrl, { name: 'feed-seed', log })
    try {
      const fixture = new FeedFixture({ schema, keyPrefix: config.redisKeyPrefix })
      const resetAt = performance.now()
      const removed = await fixture.reset({ pg: pool, redis }, { handlePrefix: spec.handlePrefix })
      progress.line(
        `reset "${spec.handlePrefix}": ${removed.users} users, ${removed.follows} follows, ${removed.posts} posts, ${removed.outbox} outbox rows, ${removed.keys} Redis keys (${((performance.now() - resetAt) / 1000).toFixed(1)} s)`,
      )
    } finally {
      redis.disconnect()
    }
  }
  const seeded = await seedGraph(pool, schema, spec, progress)
  process.stdout.write(`${seedSummary(seeded, performance.now() - startedAt)}\n`)
} catch (err) {
  process.stderr.write(`seed: ${err instanceof SeedError ? err.message : (err as Error).stack}\n`)
  process.exitCode = 1
} finally {
  await pool.end()
}
