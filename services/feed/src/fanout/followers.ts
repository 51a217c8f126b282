/**
 * The fan-out's reads from Postgres (the primary: a follow committed a moment ago must count).
 * Followers are read in keyset pages by follower_id on the (followee_id, follower_id) index, so a
 * 1M-follower author costs 100 index range scans of 10k rows, never one 1M-row result in memory.
 */
import type pg from 'pg'

export const FOLLOWER_PAGE_SIZE = 10_000

export interface AuthorFacts {
  followerCount: number
  /** The author was pulled before (migrations/0002): never pushed again. */
  pulled: boolean
  /** The post is already deleted in Postgres: a late or replayed `post_created` must not push it. */
  postDeleted: boolean
}

export class FollowerSource {
  readonly #pool: Pick<pg.Pool, 'query'>
  readonly #pageSize: number

  constructor(pool: Pick<pg.Pool, 'query'>, pageSize = FOLLOWER_PAGE_SIZE) {
    this.#pool = pool
    this.#pageSize = pageSize
  }

  /** The author's follower count and pulled flag (the celebrity test) and whether the post is deleted, in one read. */
  async facts(authorId: string, postId: string): Promise<AuthorFacts> {
    const { rows } = await this.#pool.query<{
      follower_count: number | null
      pulled: boolean | null
      deleted: boolean
    }>(
      `SELECT u.follower_count, u.pulled,
              EXISTS (SELECT 1 FROM posts WHERE id = $2 AND deleted_at IS NOT NULL) AS deleted
         FROM (SELECT 1) one LEFT JOIN users u ON u.id = $1`,
      [authorId, postId],
    )
    const row = rows[0]
    return {
      followerCount: row?.follower_count ?? 0,
      pulled: row?.pulled ?? false,
      postDeleted: row?.deleted ?? false,
    }
  }

  /** Every follower of `authorId`, a page at a time, in follower_id order. */
  async *pages(authorId: string): AsyncGenerator<string[]> {
    let after = '0'
    for (;;) {
      const { rows } = await this.#pool.query<{ id: string }>(
        `SELECT follower_id::text AS id FROM follows
          WHERE followee_id = $1 AND follower_id > $2
          ORDER BY follower_id LIMIT $3`,
        [authorId, after, this.#pageSize],
      )
      if (rows.length > 0) yield rows.map((r) => r.id)
      if (rows.length < this.#pageSize) return
      after = rows[rows.length - 1]?.id ?? after
    }
  }
}
