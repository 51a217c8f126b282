/**
 * The seed: the graph's shape (power-law follower counts, celebrities, reproducible by seed) in
 * memory, and the command end to end on real Postgres and Redis at small sizes — counts,
 * follower_count consistent with the follows, post ids time-ordered and never colliding, --reset,
 * and its flags.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { FeedFixture } from '../src/fixture.ts'
import { postIdTimeMs } from '../src/ids.ts'
import { parseSeedArgs } from '../src/seed/cli.ts'
import { buildGraph, type Graph } from '../src/seed/graph.ts'
import { type FeedHarness, feedHarness } from './helpers.ts'

const seedScript = fileURLToPath(new URL('../scripts/seed.ts', import.meta.url))

/** Least-squares slope of log(count) against log(rank) over ranks [from, to] (1-based). */
function logLogSlope(countsDesc: number[], from: number, to: number): number {
  const xs: number[] = []
  const ys: number[] = []
  for (let r = from; r <= to; r++) {
    xs.push(Math.log(r))
    ys.push(Math.log(Math.max(1, countsDesc[r - 1] ?? 1)))
  }
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length
  const my = ys.reduce((a, b) => a + b, 0) / ys.length
  let num = 0
  let den = 0
  xs.forEach((x, i) => {
    num += (x - mx) * ((ys[i] as number) - my)
    den += (x - mx) ** 2
  })
  return num / den
}

function followersOf(graph: Graph, user: number): number[] {
  const out: number[] = []
  for (let f = 0; f < graph.users; f++) {
    for (let e = graph.offsets[f] as number; e < (graph.offsets[f + 1] as number); e++) {
      if (graph.followees[e] === user) out.push(f)
    }
  }
  return out
}

test('the graph: power-law follower counts, celebrities with their followers, the same seed the same graph', () => {
  const spec = { users: 20_000, meanFollows: 10, celebrities: 2, celebrityFollowers: 5000, randomSeed: 42 }
  const graph = buildGraph(spec)
  assert.equal(graph.followerCounts[0], 5000)
  assert.equal(graph.followerCounts[1], 5000)
  assert.ok(!followersOf(graph, 0).includes(0), 'nobody follows themselves')

  const regular = [...graph.followerCounts.slice(2)].sort((a, b) => b - a)
  const regularFollows = regular.reduce((a, b) => a + b, 0)
  const meanOut = regularFollows / spec.users
  assert.ok(meanOut > 9 && meanOut < 11, `mean follows ≈ 10, got ${meanOut}`)
  // A power law with rank exponent s = 0.78: a straight line of that slope on log–log axes,
  // a few accounts holding much of the graph, the median far below the mean.
  const slope = logLogSlope(regular, 10, 2000)
  assert.ok(slope < -0.6 && slope > -1.0, `rank–count slope ≈ −0.78, got ${slope}`)
  const topShare = regular.slice(0, 200).reduce((a, b) => a + b, 0) / regularFollows
  assert.ok(topShare > 0.2, `the top 1 % hold > 20 % of follows, got ${topShare}`)
  const median = regular[Math.floor(regular.length / 2)] as number
  assert.ok(median < meanOut / 1.5, `median ${median} well below the mean ${meanOut}`)

  // A flat draw (s → 0) has none of that: the test tells the shapes apart.
  const flat = buildGraph({ ...spec, zipfExponent: 0.01, celebrities: 0 })
  const flatCounts = [...flat.followerCounts].sort((a, b) => b - a)
  assert.ok(logLogSlope(flatCounts, 10, 2000) > -0.3)

  const again = buildGraph(spec)
  assert.deepEqual(again.followees, graph.followees)
  assert.notDeepEqual(buildGraph({ ...spec, randomSeed: 43 }).followees, graph.followees)
  // More celebrity followers than users: every other user.
  assert.equal(buildGraph({ users: 50, celebrities: 1, celebrityFollowers: 1000 }).followerCounts[0], 49)
})

test('seed flags: defaults, every bad flag named, --help', () => {
  const ok = parseSeedArgs([])
  assert.ok('command' in ok)
  assert.deepEqual(ok.command.spec, {
    handlePrefix: 'seed_',
    users: 100_100,
    celebrities: 3,
    celebrityFollowers: 100_000,
    meanFollows: 20,
    postsPerUser: 5,
    zipfExponent: 0.78,
  })
  assert.equal(ok.command.reset, false)
  const bad = parseSeedArgs([
    '--users',
    '0',
    '--celebrities',
    '0',
    '--mean-follows',
    'x',
    '--handle-prefix',
    'a-b',
    '--schema',
    'A',
  ])
  assert.ok('errors' in bad)
  assert.equal(bad.errors.length, 4)
  assert.match(bad.errors.join('\n'), /--users.*--mean-follows.*--handle-prefix.*--schema/s)
  assert.deepEqual(parseSeedArgs(['--help']), { help: true })
  assert.ok('errors' in parseSeedArgs(['--bogus']))
})

async function runSeed(
  h: FeedHarness,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [seedScript, ...args], {
      env: { ...process.env, ...h.env },
      timeout: 120_000,
    })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

test('the seed command: counts, follower_count consistent, celebrities, time-ordered ids, --reset', async (t) => {
  const h = await feedHarness(t)
  const fixture = new FeedFixture({ schema: h.schema, keyPrefix: h.keyPrefix })
  const args = [
    '--users',
    '3000',
    '--celebrities',
    '2',
    '--celebrity-followers',
    '5000',
    '--mean-follows',
    '8',
  ]
  const first = await runSeed(h, [...args, '--posts-per-user', '2', '--random-seed', '3'])
  assert.equal(first.code, 0, first.stderr)
  assert.match(first.stdout, /users 3000 \(ids 1…3000\), follows \d+k?, posts 6000/)
  assert.match(first.stdout, /celebrities: 1 \(2999\), 2 \(2999\)/, 'capped at every other user')
  assert.match(first.stdout, /time: graph .* total \d+\.\d s/)
  assert.match(first.stderr, /follows .*100%/, 'progress lines on a non-TTY')

  const { rows } = await h.db.query<{ users: number; follows: number; posts: number; max: number }>(
    `SELECT (SELECT count(*)::int FROM users WHERE handle LIKE 'seed\\_%') AS users,
            (SELECT count(*)::int FROM follows) AS follows,
            (SELECT count(*)::int FROM posts) AS posts,
            (SELECT max(follower_count) FROM users) AS max`,
  )
  assert.equal(rows[0]?.users, 3000)
  assert.equal(rows[0]?.posts, 6000)
  assert.equal(rows[0]?.max, 2999)
  assert.ok((rows[0]?.follows ?? 0) > 2 * 2999 + 3000 * 6, 'celebrity follows plus ≈ 8 each')
  assert.equal(await fixture.followerCountDrift(h.db), 0)

  const refused = await runSeed(h, [...args])
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /exist already: reset them first \(--reset\)/)

  // A second prefix: its posts go before every existing one, so no id can collide.
  const other = await runSeed(h, ['--users', '50', '--celebrities', '0', '--handle-prefix', 'other_'])
  assert.equal(other.code, 0, other.stderr)
  const { rows: ranges } = await h.db.query<{
    prefix: string
    lo: string
    hi: string
    n: number
    bad: number
  }>(
    `SELECT left(u.handle, 5) AS prefix, min(p.id)::text AS lo, max(p.id)::text AS hi, count(*)::int AS n,
            count(*) FILTER (WHERE (extract(epoch FROM p.created_at) * 1000)::bigint <> (p.id / 4096 + 1577836800000))::int AS bad
       FROM posts p JOIN users u ON u.id = p.author_id GROUP BY 1 ORDER BY 1`,
  )
  const [others, seeds] = ranges
  assert.equal(others?.n, 250)
  assert.ok(Number(others?.hi) < Number(seeds?.lo), 'the second seed’s posts are older than the first’s')
  assert.equal((others?.bad ?? 1) + (seeds?.bad ?? 1), 0, 'created_at is the id’s millisecond')
  assert.ok(postIdTimeMs(seeds?.hi as string) < Date.now())

  await h.redis.set(h.keys.timeline('1'), 'x')
  const reseeded = await runSeed(h, [...args, '--posts-per-user', '1', '--reset'])
  assert.equal(reseeded.code, 0, reseeded.stderr)
  assert.match(
    reseeded.stderr,
    /reset "seed_": 3000 users, \d+ follows, 6000 posts, 0 outbox rows, 1 Redis keys/,
  )
  const { rows: after } = await h.db.query<{ users: number; posts: number }>(
    `SELECT count(*)::int AS users, (SELECT count(*)::int FROM posts) AS posts FROM users`,
  )
  assert.deepEqual(after[0], { users: 3050, posts: 3000 + 250 })
  assert.equal(await fixture.followerCountDrift(h.db), 0)
})
