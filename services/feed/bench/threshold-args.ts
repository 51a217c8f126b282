/** The threshold benchmark's flags (pure: test/threshold-plan.test.ts checks them). */
import { parseArgs } from 'node:util'
import { type AuthorMix, authorMixes, parseThresholds, type ThresholdSpec } from './threshold-plan.ts'

export const thresholdsUsage = `Usage: node services/feed/bench/thresholds.ts [options]

Push vs pull vs hybrid fan-out at several FANOUT_CELEBRITY_THRESHOLD values, over one power-law
graph: per threshold the write side (deliveries, fan-out worker CPU and post → delivered per post,
Redis memory of the timelines) and the read side (timeline read p50/p99, API CPU per read, followed
celebrities merged per read). A measurement: it never fails on its numbers. Needs the native infra
(./faultline infra up); run it under the infra lock, alone. About 4 minutes with the defaults.

Graph (src/seed by COPY into schema feed_bench_thr; every user active; all removed at the end):
  --users N                 users (default 20000)
  --celebrities N           accounts with --celebrity-followers followers each (default 4)
  --celebrity-followers N   (default 12000)
  --mean-follows N          mean power-law follows per user besides the celebrities (default 10)
  --seed N                  random seed of the graph, the authors and the readers (default 11)
Runs, one per threshold:
  --thresholds LIST         none (push all), pull (pull all), or follower counts ≥ 1
                            (default none,10000,1000,100,pull)
  --posts N                 posts per threshold, the same authors in the same order (default 240)
  --post-rate N             posts/s, open model (default 12)
  --mix tiers|uniform       who posts: equal shares per follower decade, or uniform over authors
                            with a follower (default tiers)
  --readers N               users whose first timeline page is read (default 500)
  --read-rate N             reads/s, k6 open model (default 400)
  --read-seconds N          measured read time, after a 3 s warm-up (default 6)
  --timeout-s N             longest wait for a threshold's fan-out to drain (default 120)
  --port N                  the API's port (default 3332)
  --out DIR                 results root (default <repo>/results)
  -h, --help`

export interface ThresholdSettings {
  users: number
  celebrities: number
  celebrityFollowers: number
  meanFollows: number
  seed: number
  thresholds: ThresholdSpec[]
  posts: number
  postRate: number
  mix: AuthorMix
  readers: number
  readRate: number
  readSeconds: number
  timeoutMs: number
  port: number
  out: string | undefined
}

const options = {
  users: { type: 'string', default: '20000' },
  celebrities: { type: 'string', default: '4' },
  'celebrity-followers': { type: 'string', default: '12000' },
  'mean-follows': { type: 'string', default: '10' },
  seed: { type: 'string', default: '11' },
  thresholds: { type: 'string', default: 'none,10000,1000,100,pull' },
  posts: { type: 'string', default: '240' },
  'post-rate': { type: 'string', default: '12' },
  mix: { type: 'string', default: 'tiers' },
  readers: { type: 'string', default: '500' },
  'read-rate': { type: 'string', default: '400' },
  'read-seconds': { type: 'string', default: '6' },
  'timeout-s': { type: 'string', default: '120' },
  port: { type: 'string', default: '3332' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const

export function parseThresholdArgs(
  argv: readonly string[],
): { help: true } | { errors: string[] } | { settings: ThresholdSettings } {
  let values: ReturnType<typeof parseArgs<{ options: typeof options; args: string[] }>>['values']
  try {
    values = parseArgs({ args: [...argv], options }).values
  } catch (err) {
    return { errors: [(err as Error).message] }
  }
  if (values.help) return { help: true }
  const errors: string[] = []
  const int = (name: keyof typeof options, min: number, max: number): number => {
    const raw = values[name] as string
    const n = Number(raw)
    if (!Number.isSafeInteger(n) || n < min || n > max)
      errors.push(`--${name} must be an integer in ${min}..${max}, got ${raw}`)
    return n
  }
  const users = int('users', 2, 1_000_000)
  const celebrities = int('celebrities', 0, 100)
  const celebrityFollowers = int('celebrity-followers', 0, 1_000_000)
  const meanFollows = int('mean-follows', 0, 1000)
  const seed = int('seed', 0, 2 ** 31)
  const posts = int('posts', 1, 100_000)
  const postRate = int('post-rate', 1, 10_000)
  const readers = int('readers', 1, 100_000)
  const readRate = int('read-rate', 1, 100_000)
  const readSeconds = int('read-seconds', 1, 300)
  const timeoutS = int('timeout-s', 1, 3600)
  const port = int('port', 1, 65_535)
  if (celebrities > users) errors.push('--celebrities must be ≤ --users')
  const parsed = parseThresholds(values.thresholds as string)
  if ('error' in parsed) errors.push(parsed.error)
  const mix = values.mix as AuthorMix
  if (!authorMixes.includes(mix))
    errors.push(`--mix must be one of ${authorMixes.join(', ')}, got ${values.mix}`)
  if (errors.length > 0 || 'error' in parsed) return { errors }
  return {
    settings: {
      users,
      celebrities,
      celebrityFollowers,
      meanFollows,
      seed,
      thresholds: parsed.specs,
      posts,
      postRate,
      mix,
      readers,
      readRate,
      readSeconds,
      timeoutMs: timeoutS * 1000,
      port,
      out: values.out,
    },
  }
}
