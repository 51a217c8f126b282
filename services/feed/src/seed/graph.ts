/**
 * The follow graph of a seed, built in memory before anything is written, so every user's
 * `follower_count` is known when the users are copied in and is right by construction.
 *
 * Shape: real follower counts follow a power law — Kwak et al. (WWW 2010) measured an exponent of
 * ≈ 2.28 for Twitter's follower distribution. Sampling each follow's target with probability
 * ∝ 1 / rank^s gives a rank–count curve of slope −s and a count distribution of exponent 1 + 1/s,
 * so s = 0.78 by default. Out-degrees are exponential around `meanFollows` (most users follow a
 * few accounts, some follow many). On top of that, `celebrities` designated accounts (user indexes
 * 0…celebrities−1) are each followed by `celebrityFollowers` random other users: the authors
 * pm18 and the hybrid fan-out are about.
 */
import { type Random, randomInt, seededRandom, shuffle } from './random.ts'

export interface GraphSpec {
  users: number
  /** Designated accounts with `celebrityFollowers` followers each (the first user indexes). */
  celebrities?: number
  /** Followers of each celebrity, capped at users − 1. Default: every other user. */
  celebrityFollowers?: number
  /** Mean accounts each user follows besides the celebrities (power-law targets). Default 0. */
  meanFollows?: number
  /** Rank exponent s of the target popularity (∝ 1 / rank^s). Default 0.78. */
  zipfExponent?: number
  /** Same seed, same graph. Default: a random one. */
  randomSeed?: number
  /**
   * Exact follows by user index `[follower, followee]`, instead of the random ones (meanFollows is
   * then ignored; celebrities are still added). For tests and experiments that need a precise graph.
   */
  edges?: ReadonlyArray<readonly [number, number]>
}

/** Follows in compressed rows: user i follows `followees[offsets[i] … offsets[i+1])`. */
export interface Graph {
  users: number
  celebrities: number
  offsets: Uint32Array
  followees: Uint32Array
  /** Followers of each user. */
  followerCounts: Uint32Array
}

export const defaultZipfExponent = 0.78

export function followCount(graph: Graph): number {
  return graph.followees.length
}

export function validateGraphSpec(spec: GraphSpec): string[] {
  const problems: string[] = []
  const whole = (name: string, v: number | undefined, min: number) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= min))
      problems.push(`${name} must be an integer ≥ ${min}`)
  }
  whole('users', spec.users, 1)
  whole('celebrities', spec.celebrities, 0)
  whole('celebrityFollowers', spec.celebrityFollowers, 0)
  if (spec.meanFollows !== undefined && !(spec.meanFollows >= 0)) problems.push('meanFollows must be ≥ 0')
  if (spec.zipfExponent !== undefined && !(spec.zipfExponent > 0)) problems.push('zipfExponent must be > 0')
  if ((spec.celebrities ?? 0) > spec.users) problems.push('celebrities must be ≤ users')
  for (const [a, b] of spec.edges ?? []) {
    if (
      !(Number.isInteger(a) && Number.isInteger(b) && a >= 0 && b >= 0 && a < spec.users && b < spec.users) ||
      a === b
    ) {
      problems.push(`edge [${a}, ${b}] must join two different user indexes below ${spec.users}`)
      break
    }
  }
  return problems
}

/** Which users follow each celebrity: a random subset of the others, as one flag per user. */
function celebrityFollowerSets(spec: GraphSpec, random: Random): Uint8Array[] {
  const n = spec.users
  const wanted = Math.min(spec.celebrityFollowers ?? n - 1, n - 1)
  return Array.from({ length: spec.celebrities ?? 0 }, (_, c) => {
    const follows = new Uint8Array(n)
    const others = shuffle(
      random,
      Uint32Array.from({ length: n - 1 }, (_, i) => (i < c ? i : i + 1)),
    )
    for (let i = 0; i < wanted; i++) follows[others[i] as number] = 1
    return follows
  })
}

/** Samples user indexes with probability ∝ 1 / rank^s over the non-celebrity users, ranks shuffled. */
function zipfSampler(spec: GraphSpec, random: Random): (() => number) | undefined {
  const first = spec.celebrities ?? 0
  const pool = spec.users - first
  if (pool <= 0) return undefined
  const s = spec.zipfExponent ?? defaultZipfExponent
  const cumulative = new Float64Array(pool)
  let total = 0
  for (let r = 0; r < pool; r++) {
    total += 1 / (r + 1) ** s
    cumulative[r] = total
  }
  const userOfRank = shuffle(
    random,
    Uint32Array.from({ length: pool }, (_, i) => first + i),
  )
  return () => {
    const x = random() * total
    let lo = 0
    let hi = pool - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((cumulative[mid] as number) < x) lo = mid + 1
      else hi = mid
    }
    return userOfRank[lo] as number
  }
}

/** Each user's own followees (besides celebrities), `seen` marking the ones taken (stamp = user + 1). */
function randomFollowees(
  user: number,
  spec: GraphSpec,
  random: Random,
  sample: (() => number) | undefined,
  seen: Int32Array,
): number[] {
  const mean = spec.meanFollows ?? 0
  if (sample === undefined || mean === 0) return []
  const candidates = spec.users - (spec.celebrities ?? 0) - (user >= (spec.celebrities ?? 0) ? 1 : 0)
  const wanted = Math.min(candidates, Math.floor(-Math.log(1 - random()) * mean + 0.5))
  const out: number[] = []
  // The most popular accounts are drawn again and again; give up after a bounded number of draws
  // rather than loop on a user who already follows nearly everyone.
  for (let draws = 0; out.length < wanted && draws < wanted * 20 + 100; draws++) {
    const target = sample()
    if (target === user || seen[target] === user + 1) continue
    seen[target] = user + 1
    out.push(target)
  }
  return out
}

export function buildGraph(spec: GraphSpec): Graph {
  const problems = validateGraphSpec(spec)
  if (problems.length > 0) throw new RangeError(`bad graph spec: ${problems.join('; ')}`)
  const n = spec.users
  const celebrities = spec.celebrities ?? 0
  const random = seededRandom(spec.randomSeed ?? randomInt(Math.random, 2 ** 31))
  const celebritySets = celebrityFollowerSets(spec, random)
  const sample = spec.edges ? undefined : zipfSampler(spec, random)
  const explicit = explicitFollowees(spec)
  const seen = new Int32Array(n)
  const offsets = new Uint32Array(n + 1)
  const rows: number[][] = []
  let total = 0
  for (let user = 0; user < n; user++) {
    const row: number[] = []
    for (let c = 0; c < celebrities; c++) if (celebritySets[c]?.[user] === 1) row.push(c)
    for (const target of explicit?.[user] ?? randomFollowees(user, spec, random, sample, seen)) {
      if (!row.includes(target)) row.push(target)
    }
    row.sort((a, b) => a - b)
    rows.push(row)
    total += row.length
    offsets[user + 1] = total
  }
  const followees = new Uint32Array(total)
  const followerCounts = new Uint32Array(n)
  rows.forEach((row, user) => {
    followees.set(row, offsets[user] as number)
    for (const target of row) followerCounts[target] = (followerCounts[target] as number) + 1
  })
  return { users: n, celebrities, offsets, followees, followerCounts }
}

function explicitFollowees(spec: GraphSpec): number[][] | undefined {
  if (!spec.edges) return undefined
  const rows: number[][] = Array.from({ length: spec.users }, () => [])
  for (const [a, b] of spec.edges) if (!rows[a]?.includes(b)) rows[a]?.push(b)
  return rows
}
