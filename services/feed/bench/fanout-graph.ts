/**
 * The fan-out benchmark's graph: `authors` accounts with `followers` followers each, written
 * straight into the benchmark's Postgres schema (one INSERT … SELECT for the users, unnest()ed
 * arrays for the follows, follower_count set to match) — tens of thousands of follows in a second,
 * where the API would take minutes — and every user's timeline created empty in Redis, so all of
 * them are active and every delivery is a real insert. What is measured afterwards (posts through
 * the API, the outbox, the relay, Kafka, the worker) goes through the service as in production.
 *
 * Handles carry a run id, so a run adds to the schema without touching what is already there (an
 * external `./faultline up feed` system's data included); at the end `removeGraph` deletes the
 * run's rows (follows, posts, users) and `dropTimelines` its Redis timelines.
 */
import type { Redis } from 'ioredis'
import type pg from 'pg'
import type { TimelineStore } from '../src/timeline-store.ts'

export interface FanoutGraph {
  authors: string[]
  /** Each author's followers, in follower_id order (the order the worker pages them in). */
  followersOf: Map<string, string[]>
  /** Every user of the run (authors and followers): the timelines to reset and remove. */
  users: string[]
}

/** Inserts in Postgres per statement: large enough to be fast, small enough for a 2-core machine. */
const chunk = 20_000

/**
 * `authors` authors and a pool of `pool` followers; author k is followed by `followers`
 * consecutive users of the pool starting at k × stride (wrapping), so authors share followers
 * the way real audiences overlap, and each follower's timeline receives several authors' posts.
 */
export async function createGraph(
  db: pg.Pool,
  options: { authors: number; followers: number; pool: number; runId: string },
): Promise<FanoutGraph> {
  const { authors: authorCount, followers, pool, runId } = options
  if (followers > pool) throw new Error(`--followers ${followers} needs a pool of at least as many users`)
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO users (handle) SELECT 'fo' || $1 || '_' || g FROM generate_series(1, $2::int) g RETURNING id::text`,
    [runId, authorCount + pool],
  )
  const ids = rows.map((r) => r.id)
  const authors = ids.slice(0, authorCount)
  const poolIds = ids.slice(authorCount)
  const stride = Math.max(1, Math.floor(pool / authorCount))
  const followersOf = new Map<string, string[]>()
  const followerCol: string[] = []
  const followeeCol: string[] = []
  authors.forEach((author, k) => {
    const list: string[] = []
    for (let j = 0; j < followers; j++) list.push(poolIds[(k * stride + j) % pool] as string)
    list.sort((a, b) => Number(a) - Number(b))
    followersOf.set(author, list)
    for (const f of list) {
      followerCol.push(f)
      followeeCol.push(author)
    }
  })
  for (let i = 0; i < followerCol.length; i += chunk) {
    await db.query(
      'INSERT INTO follows (follower_id, followee_id) SELECT * FROM unnest($1::bigint[], $2::bigint[])',
      [followerCol.slice(i, i + chunk), followeeCol.slice(i, i + chunk)],
    )
  }
  await db.query('UPDATE users SET follower_count = $2 WHERE id = ANY($1::bigint[])', [authors, followers])
  return { authors, followersOf, users: ids }
}

/** Every user's timeline deleted and created again, empty (sentinel only): the same start for each run. */
export async function resetTimelines(
  redis: Redis,
  store: TimelineStore,
  users: readonly string[],
): Promise<void> {
  await dropTimelines(redis, store, users)
  for (let i = 0; i < users.length; i += 1000) {
    await Promise.all(users.slice(i, i + 1000).map((u) => store.buildTimeline(u, [])))
  }
}

/** Removes the run's timelines and the authors' recent sets. */
export async function dropTimelines(
  redis: Redis,
  store: TimelineStore,
  users: readonly string[],
): Promise<void> {
  for (let i = 0; i < users.length; i += 1000) {
    const slice = users.slice(i, i + 1000)
    await redis.unlink(
      ...slice.map((u) => store.keys.timeline(u)),
      ...slice.map((u) => store.keys.authorPosts(u)),
    )
  }
}

/** Deletes the run's follows, posts (and any outbox rows left for them) and users. */
export async function removeGraph(db: pg.Pool, graph: FanoutGraph): Promise<void> {
  const users = graph.users
  await db.query(
    'DELETE FROM follows WHERE followee_id = ANY($1::bigint[]) OR follower_id = ANY($1::bigint[])',
    [users],
  )
  await db.query('DELETE FROM posts WHERE author_id = ANY($1::bigint[])', [graph.authors])
  await db.query('DELETE FROM users WHERE id = ANY($1::bigint[])', [users])
}
