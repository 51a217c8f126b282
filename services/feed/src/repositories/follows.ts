import { withPgClient } from '@faultline/kit/clients'
import type pg from 'pg'
import type { ApiMetrics } from '../metrics.ts'

export type FollowChange =
  /** The follow (or unfollow) was applied, or was already in place (`changed: false`). */
  | { kind: 'applied'; changed: boolean; followeeFollowerCount: number }
  /** No such follower, or no such followee: nothing was written. */
  | { kind: 'missing'; which: 'follower' | 'followee' }

/** Inserts the edge; when it is new, counts the follower in the same statement. */
const followSql = `
WITH inserted AS (
  INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)
  ON CONFLICT DO NOTHING
  RETURNING followee_id
), counted AS (
  UPDATE users SET follower_count = follower_count + 1
  WHERE id IN (SELECT followee_id FROM inserted)
  RETURNING follower_count
)
SELECT (SELECT count(*) FROM inserted)::int AS changed,
       coalesce((SELECT follower_count FROM counted),
                (SELECT follower_count FROM users WHERE id = $2)) AS follower_count`

/** Deletes the edge; when it existed, uncounts the follower in the same statement. */
const unfollowSql = `
WITH deleted AS (
  DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2
  RETURNING followee_id
), counted AS (
  UPDATE users SET follower_count = follower_count - 1
  WHERE id IN (SELECT followee_id FROM deleted)
  RETURNING follower_count
)
SELECT (SELECT count(*) FROM deleted)::int AS changed,
       coalesce((SELECT follower_count FROM counted),
                (SELECT follower_count FROM users WHERE id = $2)) AS follower_count`

/**
 * Follows, on the primary. A follow and `users.follower_count` change in one transaction, so the
 * count the fan-out's celebrity test reads is exactly the number of rows in `follows`. Both are
 * idempotent: a repeat changes nothing (`changed: false`).
 */
export class FollowRepository {
  readonly #pool: Pick<pg.Pool, 'connect'>
  readonly #metrics: ApiMetrics

  constructor(pool: Pick<pg.Pool, 'connect'>, metrics: ApiMetrics) {
    this.#pool = pool
    this.#metrics = metrics
  }

  follow(followerId: string, followeeId: string): Promise<FollowChange> {
    return this.#change('follow', followSql, followerId, followeeId)
  }

  unfollow(followerId: string, followeeId: string): Promise<FollowChange> {
    return this.#change('unfollow', unfollowSql, followerId, followeeId)
  }

  async #change(
    op: 'follow' | 'unfollow',
    sql: string,
    followerId: string,
    followeeId: string,
  ): Promise<FollowChange> {
    this.#metrics.dbQueries.inc({ pool: 'primary', op })
    // A failure anywhere destroys the connection (withPgClient), which aborts the transaction.
    return withPgClient(this.#pool, async (client) => {
      await client.query('BEGIN')
      // FOR KEY SHARE: neither account can be deleted under us, and concurrent follows of one
      // target do not block each other here (they serialise on the follower_count update only).
      const { rows: found } = await client.query<{ id: string }>(
        'SELECT id FROM users WHERE id = ANY($1::bigint[]) FOR KEY SHARE',
        [[followerId, followeeId]],
      )
      const ids = new Set(found.map((r) => String(r.id)))
      const missing = !ids.has(followerId) ? 'follower' : !ids.has(followeeId) ? 'followee' : undefined
      if (missing) {
        await client.query('ROLLBACK')
        return { kind: 'missing', which: missing }
      }
      const { rows } = await client.query<{ changed: number; follower_count: number }>(sql, [
        followerId,
        followeeId,
      ])
      await client.query('COMMIT')
      const row = rows[0]
      return {
        kind: 'applied',
        changed: (row?.changed ?? 0) > 0,
        followeeFollowerCount: row?.follower_count ?? 0,
      }
    })
  }
}
