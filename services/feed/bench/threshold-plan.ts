/**
 * The threshold benchmark's plan, pure (no I/O, so test/threshold-plan.test.ts checks it): which
 * FANOUT_CELEBRITY_THRESHOLD values to run, and who writes the posts.
 *
 * Thresholds: `none` (push everyone: one above the largest follower count), `pull` (pull everyone:
 * 1, the smallest value the config accepts — an author with no follower has nobody to push to
 * anyway), or a follower count N ≥ 1 (authors with ≥ N followers are pulled, as the worker's
 * `follower_count >= threshold` test says). 0 is refused: the config's minimum is 1.
 *
 * Authors: every post's author is drawn in advance, once, from a seeded generator, so each
 * threshold sees the very same posts in the same order and the rows differ only by the threshold.
 * Two mixes:
 *   tiers    equal shares of the posts for each follower-count decade that has authors (≥ 10k,
 *            1k–10k, 100–1k, 10–100, 1–10), uniform within a decade. Not how often real accounts
 *            post, but every size of author is in every row, and a row's cost per decade can be
 *            re-weighted to any real mix (the per-decade counts are in summary.json);
 *   uniform  uniform over the authors who have at least one follower: what a real mix looks like
 *            if posting is independent of audience — a few hundred posts then rarely include a
 *            celebrity, so the rows barely differ.
 */
import { type Random, randomInt, shuffle } from '../src/seed/random.ts'

export type ThresholdSpec = { kind: 'push-all' } | { kind: 'pull-all' } | { kind: 'followers'; min: number }

export type AuthorMix = 'tiers' | 'uniform'
export const authorMixes: readonly AuthorMix[] = ['tiers', 'uniform']

/** Parses `--thresholds`: a comma-separated list of `none`, `pull` and integers ≥ 1. */
export function parseThresholds(raw: string): { specs: ThresholdSpec[] } | { error: string } {
  const specs: ThresholdSpec[] = []
  for (const token of raw.split(',').map((t) => t.trim())) {
    if (token === 'none' || token === 'push') specs.push({ kind: 'push-all' })
    else if (token === 'pull') specs.push({ kind: 'pull-all' })
    else if (token === '0')
      return { error: '--thresholds: 0 is no FANOUT_CELEBRITY_THRESHOLD (its minimum is 1); use pull' }
    else if (/^[1-9]\d{0,8}$/.test(token)) specs.push({ kind: 'followers', min: Number(token) })
    else return { error: `--thresholds: "${token}" is neither none, pull nor an integer ≥ 1` }
  }
  return specs.length === 0 ? { error: '--thresholds: at least one threshold' } : { specs }
}

/** The FANOUT_CELEBRITY_THRESHOLD to run a spec with, given the graph's largest follower count. */
export function thresholdValue(spec: ThresholdSpec, maxFollowers: number): number {
  if (spec.kind === 'push-all') return maxFollowers + 1
  if (spec.kind === 'pull-all') return 1
  return spec.min
}

export function thresholdLabel(spec: ThresholdSpec, maxFollowers: number): string {
  if (spec.kind === 'push-all') return `none (push all: ${maxFollowers + 1})`
  if (spec.kind === 'pull-all') return 'pull (pull all: 1)'
  return String(spec.min)
}

/** Authors the worker does not push at this threshold (they have followers, and ≥ threshold of them). */
export function pulledAuthors(followerCounts: ArrayLike<number>, threshold: number): number {
  let n = 0
  for (let i = 0; i < followerCounts.length; i++) if ((followerCounts[i] as number) >= threshold) n++
  return n
}

/**
 * Deliveries per post the worker makes when every user with a follower posts equally often and
 * every user is active: the author's own timeline, plus each follower unless the author is pulled.
 * A model from the graph (no measurement): what the `uniform` mix converges to.
 */
export function uniformDeliveriesPerPost(followerCounts: ArrayLike<number>, threshold: number): number {
  let authors = 0
  let deliveries = 0
  for (let i = 0; i < followerCounts.length; i++) {
    const n = followerCounts[i] as number
    if (n === 0) continue
    authors++
    deliveries += n >= threshold ? 1 : n + 1
  }
  return authors === 0 ? 0 : deliveries / authors
}

/** Follower-count decades, largest first: [lower bound, upper bound). */
export const followerDecades: readonly (readonly [number, number])[] = [
  [10_000, Number.POSITIVE_INFINITY],
  [1000, 10_000],
  [100, 1000],
  [10, 100],
  [1, 10],
]

export function decadeLabel([low, high]: readonly [number, number]): string {
  return Number.isFinite(high) ? `${low}–${high - 1}` : `≥ ${low}`
}

/** User indexes of each decade (same order as followerDecades). */
export function indexesByDecade(followerCounts: ArrayLike<number>): number[][] {
  const out = followerDecades.map(() => [] as number[])
  for (let i = 0; i < followerCounts.length; i++) {
    const n = followerCounts[i] as number
    const d = followerDecades.findIndex(([low, high]) => n >= low && n < high)
    if (d >= 0) out[d]?.push(i)
  }
  return out
}

/**
 * The author (user index) of each of `posts` posts. `tiers`: the non-empty decades in turn, an
 * author at random within each, the sequence then shuffled (the decades interleave, none comes in
 * a block); `uniform`: any author with a follower. Throws when no user has a follower.
 */
export function drawAuthors(
  followerCounts: ArrayLike<number>,
  posts: number,
  mix: AuthorMix,
  random: Random,
): number[] {
  const decades = indexesByDecade(followerCounts).filter((d) => d.length > 0)
  if (decades.length === 0) throw new RangeError('no user has a follower: nobody to post')
  if (mix === 'uniform') {
    const all = decades.flat()
    return Array.from({ length: posts }, () => all[randomInt(random, all.length)] as number)
  }
  const drawn = Array.from({ length: posts }, (_, i) => {
    const decade = decades[i % decades.length] as number[]
    return decade[randomInt(random, decade.length)] as number
  })
  return Array.from(shuffle(random, Uint32Array.from(drawn)))
}

/** How many of the drawn posts fall in each decade (labels as decadeLabel). */
export function postsByDecade(
  followerCounts: ArrayLike<number>,
  authors: readonly number[],
): Record<string, number> {
  const out: Record<string, number> = {}
  for (const decade of followerDecades) out[decadeLabel(decade)] = 0
  for (const a of authors) {
    const n = followerCounts[a] as number
    const decade = followerDecades.find(([low, high]) => n >= low && n < high)
    if (decade) out[decadeLabel(decade)] = (out[decadeLabel(decade)] as number) + 1
  }
  return out
}

/** `count` distinct indexes of [0, n), drawn at random (all of them when count ≥ n). */
export function sampleIndexes(n: number, count: number, random: Random): number[] {
  const all = shuffle(
    random,
    Uint32Array.from({ length: n }, (_, i) => i),
  )
  return Array.from(all.subarray(0, Math.min(n, count)))
}
