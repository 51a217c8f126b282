/**
 * Writes a seeded graph straight into Postgres: users (with ids taken from the table's own
 * sequence, so the API never hands one out again, and `follower_count` already right), follows and
 * posts, each by COPY, in one transaction — a failed seed leaves nothing behind. No outbox rows and
 * no Redis state: seeded posts are history, and a seeded user's timeline is built from Postgres on
 * their first read like any returning user's (or by the fixture's `activateTimelines`).
 */
import { withPgClient } from '@faultline/kit/clients'
import type pg from 'pg'
import { type Db, startsWith, type Tables, tablesIn } from '../fixture/db.ts'
import { postIdTimeMs } from '../ids.ts'
import { copyRows } from './copy.ts'
import { buildGraph, followCount, type Graph, type GraphSpec } from './graph.ts'
import { buildPosts, postWindow, type SeedPosts } from './posts.ts'
import { type SeedProgress, silentSeedProgress } from './progress.ts'
import { seededRandom } from './random.ts'

export interface SeedSpec extends GraphSpec {
  /** Every seeded handle is `<handlePrefix><index>`; the fixture's reset removes them by it. */
  handlePrefix: string
  /** Posts per user (default 0). */
  postsPerUser?: number
  /** How far back the seeded posts go (default 7 days). */
  postSpanMs?: number
}

export interface SeededGraph {
  /** User ids by index: the celebrities first. */
  userIds: string[]
  celebrityIds: string[]
  /** Followers of each user, by index, as written to `follower_count`. */
  followerCounts: Uint32Array
  follows: number
  posts: number
  /** How long each stage took. */
  timingsMs: Record<'graph' | 'users' | 'follows' | 'posts' | 'analyze', number>
  /** Whether the follows and posts were checked against users one by one (not as a superuser: slower). */
  foreignKeyChecks: boolean
}

const sevenDaysMs = 7 * 86_400_000

interface TableRows {
  stage: 'users' | 'follows' | 'posts'
  /** `schema.table (columns)` */
  target: string
  count: number
  /** Row `i` as COPY text: tab-separated, no newline. Called in order of `i`. */
  row: (i: number) => string
}

/** What is copied, in order (users first: the follows and posts refer to them). */
function tableRows(
  t: Tables,
  handlePrefix: string,
  userIds: readonly string[],
  graph: Graph,
  posts: SeedPosts,
): TableRows[] {
  let follower = 0
  return [
    {
      stage: 'users',
      target: `${t.users} (id, handle, follower_count)`,
      count: graph.users,
      row: (i) => `${userIds[i]}\t${handlePrefix}${i}\t${graph.followerCounts[i]}`,
    },
    {
      stage: 'follows',
      target: `${t.follows} (follower_id, followee_id)`,
      count: followCount(graph),
      // Edges are grouped by follower (compressed rows): walk the offsets along with `e`.
      row: (e) => {
        while ((graph.offsets[follower + 1] as number) <= e) follower++
        return `${userIds[follower]}\t${userIds[graph.followees[e] as number]}`
      },
    },
    {
      stage: 'posts',
      target: `${t.posts} (id, author_id, text, created_at)`,
      count: posts.ids.length,
      row: (i) => {
        const id = posts.ids[i] as number
        return `${id}\t${userIds[posts.authors[i] as number]}\tseed post ${i}\t${new Date(postIdTimeMs(id)).toISOString()}`
      },
    },
  ]
}

/**
 * Every follow row costs two foreign-key checks, each an index probe and a row lock on a user (a
 * celebrity's row is locked 100k times): with them, the default seed's follows took 25.8 s on this
 * machine, without them 8.9 s (whole seed 31.5 s → 12.7 s). The rows are consistent by
 * construction — every id comes from the users copied just before in the same transaction — so,
 * like `pg_restore --disable-triggers`, the seed turns the checks off for its own transaction
 * (`SET LOCAL session_replication_role = replica`). That needs a superuser (the lab's user is one);
 * anyone else keeps the checks and waits longer. Returns whether the checks stay on.
 */
async function skipForeignKeyChecks(client: pg.PoolClient): Promise<boolean> {
  await client.query('SAVEPOINT seed_replication_role')
  try {
    await client.query('SET LOCAL session_replication_role = replica')
    await client.query('RELEASE SAVEPOINT seed_replication_role')
    return false
  } catch {
    await client.query('ROLLBACK TO SAVEPOINT seed_replication_role')
    return true
  }
}

export class SeedError extends Error {
  override name = 'SeedError'
}

export async function seedGraph(
  pg: Db,
  schema: string,
  spec: SeedSpec,
  progress: SeedProgress = silentSeedProgress,
): Promise<SeededGraph> {
  if (spec.handlePrefix === '') throw new SeedError('a seed needs a handle prefix (reset removes by it)')
  const t = tablesIn(schema)
  const timingsMs = { graph: 0, users: 0, follows: 0, posts: 0, analyze: 0 }
  const timed = async <T>(stage: keyof typeof timingsMs, fn: () => Promise<T> | T): Promise<T> => {
    const start = performance.now()
    const result = await fn()
    timingsMs[stage] = Math.round(performance.now() - start)
    return result
  }

  const taken = await pg.query(`SELECT 1 FROM ${t.users} WHERE handle LIKE $1 LIMIT 1`, [
    startsWith(spec.handlePrefix),
  ])
  if (taken.rows.length > 0) {
    throw new SeedError(
      `users with handle prefix "${spec.handlePrefix}" exist already: reset them first (--reset)`,
    )
  }
  progress.line(`building the graph of ${spec.users} users in memory`)
  const graph = await timed('graph', () => buildGraph(spec))
  const { rows: idRows } = await pg.query<{ id: string }>(
    `SELECT nextval(pg_get_serial_sequence($1, 'id'))::text AS id FROM generate_series(1, $2)`,
    [t.users, spec.users],
  )
  const userIds = idRows.map((r) => r.id)
  const { rows: oldest } = await pg.query<{ id: string | null }>(`SELECT min(id)::text AS id FROM ${t.posts}`)
  const random = seededRandom((spec.randomSeed ?? Date.now()) + 1)
  const window = postWindow(
    spec.postSpanMs ?? sevenDaysMs,
    Date.now(),
    oldest[0]?.id ? Number(oldest[0].id) : null,
  )
  const posts = buildPosts(spec.users, spec.postsPerUser ?? 0, window, random)

  let foreignKeyChecks = true
  await withPgClient(pg, async (client) => {
    await client.query('BEGIN')
    foreignKeyChecks = await skipForeignKeyChecks(client)
    for (const table of tableRows(t, spec.handlePrefix, userIds, graph, posts)) {
      await timed(table.stage, async () => {
        progress.stage(table.stage, table.count)
        await copyRows(client, table.target, table.count, table.row, progress.advance)
        progress.end()
      })
    }
    await client.query('COMMIT')
  })
  // Fresh statistics, so the service's first queries on the seeded tables get sensible plans.
  await timed('analyze', () => pg.query(`ANALYZE ${t.users}, ${t.follows}, ${t.posts}`))
  return {
    userIds,
    celebrityIds: userIds.slice(0, graph.celebrities),
    followerCounts: graph.followerCounts,
    follows: followCount(graph),
    posts: posts.ids.length,
    timingsMs,
    foreignKeyChecks,
  }
}
