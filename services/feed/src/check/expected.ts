/**
 * The home timeline as Postgres says it should be: the posts of the accounts the user follows now
 * and the user's own, not deleted, newest first (by id: ids are time-ordered), the newest `cap`.
 * One statement per batch of users, so the followees and the posts are read in one snapshot; each
 * author is one index range (posts_author_idx) of at most `cap` rows.
 */
import { type Queryable, tablesIn } from '../fixture/db.ts'

export interface ExpectedOptions {
  /** Posts kept per timeline (TIMELINE_CAP). */
  cap: number
  /**
   * For the Redis timeline rather than the API's: followees with at least this many followers are
   * celebrities (FANOUT_CELEBRITY_THRESHOLD, hybridFanout on) whose posts are merged at read time,
   * not pushed — they are left out of `ids` and neither required nor counted extra.
   */
  celebrityThreshold?: number
}

export interface ExpectedTimeline {
  userId: string
  /** Post ids, newest first, at most `cap`. */
  ids: string[]
  /** Whose posts belong in the timeline: the followees now and the user. */
  authors: Set<string>
}

interface Row {
  user_id: string
  followees: string[]
  ids: string[]
}

/** The expected timelines of these users (users that do not exist are absent from the map). */
export async function expectedTimelines(
  pg: Queryable,
  schema: string,
  userIds: readonly string[],
  o: ExpectedOptions,
): Promise<Map<string, ExpectedTimeline>> {
  const t = tablesIn(schema)
  const threshold = o.celebrityThreshold ?? null
  const { rows } = await pg.query<Row>(
    `SELECT u.id::text AS user_id,
            ARRAY(SELECT f.followee_id::text FROM ${t.follows} f WHERE f.follower_id = u.id) AS followees,
            ARRAY(SELECT p.id::text FROM (
                    SELECT u.id AS author_id
                    UNION ALL
                    SELECT f.followee_id FROM ${t.follows} f JOIN ${t.users} a ON a.id = f.followee_id
                     WHERE f.follower_id = u.id AND ($3::int IS NULL OR (a.follower_count < $3::int AND NOT a.pulled))
                  ) src
                  CROSS JOIN LATERAL (
                    SELECT id FROM ${t.posts}
                     WHERE author_id = src.author_id AND deleted_at IS NULL
                     ORDER BY id DESC LIMIT $2
                  ) p
                  ORDER BY p.id DESC LIMIT $2) AS ids
       FROM ${t.users} u WHERE u.id = ANY($1::bigint[])`,
    [userIds, o.cap, threshold],
  )
  const out = new Map<string, ExpectedTimeline>()
  for (const r of rows) {
    out.set(r.user_id, {
      userId: r.user_id,
      ids: r.ids,
      authors: new Set([...r.followees, r.user_id]),
    })
  }
  return out
}

export interface PostFacts {
  authorId: string
  deleted: boolean
}

/** Author and deleted-ness of each of these post ids that exists. */
export async function postFacts(
  pg: Queryable,
  schema: string,
  postIds: readonly string[],
): Promise<Map<string, PostFacts>> {
  const facts = new Map<string, PostFacts>()
  if (postIds.length === 0) return facts
  const { rows } = await pg.query<{ id: string; author_id: string; deleted: boolean }>(
    `SELECT id::text, author_id::text, deleted_at IS NOT NULL AS deleted FROM ${tablesIn(schema).posts}
      WHERE id = ANY($1::bigint[])`,
    [postIds],
  )
  for (const r of rows) facts.set(r.id, { authorId: r.author_id, deleted: r.deleted })
  return facts
}
