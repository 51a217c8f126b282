/**
 * The seed command's flags and its run: parse (every bad flag reported at once, exit 2), migrate,
 * optionally reset the prefix, seed by COPY with a progress bar, print what was built and how long
 * each stage took.
 */
import { parseArgs } from 'node:util'
import { defaultZipfExponent } from './graph.ts'
import { formatCount } from './progress.ts'
import type { SeededGraph, SeedSpec } from './seed-graph.ts'

export const seedUsage = `Seeds the feed's Postgres with a realistic graph, fast (COPY).

  node services/feed/scripts/seed.ts [options]

  --users N                users (default 100100: enough for three authors with ≥ 100k followers)
  --celebrities N          accounts followed by --celebrity-followers users each (default 3)
  --celebrity-followers N  followers of each celebrity, capped at users − 1 (default 100000)
  --mean-follows N         mean accounts each user follows besides the celebrities, targets drawn
                           with a power law (default 20)
  --posts-per-user N       posts per user, spread over the past week (default 5)
  --zipf S                 target popularity ∝ 1/rank^S; follower counts then have exponent 1 + 1/S
                           (default ${defaultZipfExponent}, Twitter's measured ≈ 2.28)
  --random-seed N          same seed, same graph (default: random)
  --handle-prefix P        handles are <P><index> (default seed_; handles are
                           1–30 of A-Z a-z 0-9 _, like the API's)
  --schema NAME            DB schema (default DB_SCHEMA, else feed)
  --reset                  first remove the users of the handle prefix (rows and Redis keys)
  --help                   this text

Postgres and Redis come from the service's config (DATABASE_URL, REDIS_URL, REDIS_KEY_PREFIX).
Migrations are applied first. Nothing is published to Kafka: seeded posts are history, and a
seeded user's timeline is built from Postgres on their first read.
`

export interface SeedCommand {
  spec: SeedSpec
  schema: string | undefined
  reset: boolean
}

export type ParsedSeedArgs = { help: true } | { help: false; command: SeedCommand } | { errors: string[] }

export function parseSeedArgs(argv: readonly string[]): ParsedSeedArgs {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        users: { type: 'string', default: '100100' },
        celebrities: { type: 'string', default: '3' },
        'celebrity-followers': { type: 'string', default: '100000' },
        'mean-follows': { type: 'string', default: '20' },
        'posts-per-user': { type: 'string', default: '5' },
        zipf: { type: 'string', default: String(defaultZipfExponent) },
        'random-seed': { type: 'string' },
        'handle-prefix': { type: 'string', default: 'seed_' },
        schema: { type: 'string' },
        reset: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values
  } catch (err) {
    return { errors: [(err as Error).message] }
  }
  if (values.help) return { help: true }
  const errors: string[] = []
  const num = (name: string, min: number, integer = true): number => {
    const raw = values[name] as string
    const v = Number(raw)
    if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
      errors.push(`--${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${raw}`)
    }
    return v
  }
  const users = num('users', 1)
  const spec: SeedSpec = {
    handlePrefix: values['handle-prefix'] as string,
    users,
    celebrities: num('celebrities', 0),
    celebrityFollowers: num('celebrity-followers', 0),
    meanFollows: num('mean-follows', 0, false),
    postsPerUser: num('posts-per-user', 0),
    zipfExponent: num('zipf', 0.01, false),
    ...(values['random-seed'] === undefined ? {} : { randomSeed: num('random-seed', 0) }),
  }
  if ((spec.celebrities ?? 0) > users) errors.push('--celebrities must be ≤ --users')
  if (
    !/^[A-Za-z0-9_]+$/.test(spec.handlePrefix) ||
    spec.handlePrefix.length + String(users - 1).length > 30
  ) {
    errors.push('--handle-prefix must be A-Z a-z 0-9 _ and leave room for the index in 30 characters')
  }
  const schema = values.schema as string | undefined
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    errors.push(`--schema "${schema}" is not a valid schema name`)
  if (errors.length > 0) return { errors }
  return { help: false, command: { spec, schema, reset: values.reset === true } }
}

/** The value at quantile q of ascending `sorted`. */
function at(sorted: Uint32Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
}

/** What was built: counts, the follower distribution, the celebrities, and each stage's time. */
export function seedSummary(seeded: SeededGraph, totalMs: number): string {
  const counts = Uint32Array.from(seeded.followerCounts).sort()
  const celebrities = seeded.celebrityIds.map(
    (id, i) => `${id} (${formatCount(seeded.followerCounts[i] ?? 0)})`,
  )
  const t = seeded.timingsMs
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`
  return [
    `users ${formatCount(seeded.userIds.length)} (ids ${seeded.userIds[0]}…${seeded.userIds.at(-1)}), follows ${formatCount(seeded.follows)}, posts ${formatCount(seeded.posts)}`,
    `followers per user: p50 ${at(counts, 0.5)}, p90 ${at(counts, 0.9)}, p99 ${at(counts, 0.99)}, p99.9 ${at(counts, 0.999)}, max ${counts.at(-1) ?? 0}`,
    `celebrities: ${celebrities.join(', ') || 'none'}`,
    `time: graph ${s(t.graph)}, users ${s(t.users)}, follows ${s(t.follows)}, posts ${s(t.posts)}, analyze ${s(t.analyze)} — total ${s(totalMs)}${seeded.foreignKeyChecks ? ' (foreign-key checks on: not a superuser)' : ''}`,
  ].join('\n')
}
