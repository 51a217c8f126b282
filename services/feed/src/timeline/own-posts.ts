/**
 * Read-your-writes (pm14): for RYW_WINDOW_S after a user's write, their timeline also merges
 * their own newest posts straight from Postgres — from the pool SessionLsn.routeFor picks, the
 * primary until the replica has replayed the user's last commit — so a post shows at once,
 * before the fan-out has delivered it and whatever the replica's lag. With readYourWrites off
 * the same query goes to the replica, and a lagging replica hides the post (the naive service).
 * Users who wrote nothing recently cost one Redis EXISTS and no query.
 */
import type { Redis } from 'ioredis'
import type { Keys } from '../keys.ts'
import type { SessionLsn } from '../session-lsn.ts'
import type { Post } from '../types.ts'
import { countedQuery, type ReaderMetrics } from './metrics.ts'

export interface OwnPostsOptions {
  redis: Redis
  keys: Keys
  sessionLsn: SessionLsn
  metrics: ReaderMetrics
}

interface PostRow {
  id: string
  author_id: string
  text: string
  created_at: Date
}

export class OwnRecentPosts {
  readonly #o: OwnPostsOptions

  constructor(options: OwnPostsOptions) {
    this.#o = options
  }

  /** The user's newest non-deleted posts older than `beforeId`, or none outside the RYW window. */
  async recent(userId: string, limit: number, beforeId?: string): Promise<Post[]> {
    const { redis, keys, sessionLsn, metrics } = this.#o
    if ((await redis.exists(keys.sessionLsn(userId))) === 0) return []
    const route = await sessionLsn.routeFor(userId)
    metrics.rywRoute.inc({ target: route.target })
    const { rows } = await countedQuery<PostRow>(
      metrics,
      route,
      'own_recent',
      `SELECT id::text AS id, author_id::text AS author_id, text, created_at FROM posts
       WHERE author_id = $1 AND deleted_at IS NULL AND ($2::bigint IS NULL OR id < $2)
       ORDER BY posts.id DESC LIMIT $3`,
      [userId, beforeId ?? null, limit],
    )
    return rows.map(rowToPost)
  }
}

export function rowToPost(row: PostRow): Post {
  return { id: row.id, authorId: row.author_id, text: row.text, createdAt: row.created_at.toISOString() }
}
