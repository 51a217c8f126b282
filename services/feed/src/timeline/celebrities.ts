/**
 * The pull half of hybrid fan-out (hybridFanout, pm18): a celebrity's posts are not pushed into
 * their followers' timelines, so a reader merges the recent sets of the celebrities they follow.
 * The list of followed celebrities is cached per user (CELEBRITY_CACHE_TTL_S; the follow routes
 * delete it), and a celebrity's recent set missing from Redis (flushed) is read from Postgres
 * once per process at a time and written back.
 */
import { SingleFlight } from '@faultline/resilience'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import type { Keys } from '../keys.ts'
import type { ReadRoute } from '../session-lsn.ts'
import type { TimelineStore } from '../timeline-store.ts'
import { countedQuery, type ReaderMetrics } from './metrics.ts'

export interface CelebrityMergeOptions {
  redis: Redis
  keys: Keys
  store: TimelineStore
  /** Pool for authors' posts when their recent set is missing (the replica). */
  replica: pg.Pool
  /** Where this user's reads go (SessionLsn.routeFor): their own last follow must be visible. */
  routeFor(userId: string): Promise<ReadRoute>
  threshold: number
  /** 0 = the list is read from Postgres on every read. */
  cacheTtlMs: number
  authorRecentCap: number
  metrics: ReaderMetrics
}

export class CelebrityMerge {
  readonly #o: CelebrityMergeOptions
  readonly #fills = new SingleFlight<string, string[]>()

  constructor(options: CelebrityMergeOptions) {
    this.#o = options
  }

  /** The ids of the celebrities `userId` follows now (cached). */
  async followed(userId: string): Promise<string[]> {
    const { redis, keys, cacheTtlMs } = this.#o
    const key = keys.followedCelebrities(userId)
    if (cacheTtlMs > 0) {
      const cached = await redis.get(key)
      if (cached !== null) return JSON.parse(cached) as string[]
    }
    const route = await this.#o.routeFor(userId)
    const { rows } = await countedQuery<{ id: string }>(
      this.#o.metrics,
      route,
      'followed_celebrities',
      `SELECT f.followee_id::text AS id FROM follows f JOIN users u ON u.id = f.followee_id
       WHERE f.follower_id = $1 AND u.follower_count >= $2`,
      [userId, this.#o.threshold],
    )
    const ids = rows.map((r) => r.id)
    if (cacheTtlMs > 0) await redis.set(key, JSON.stringify(ids), 'PX', cacheTtlMs)
    return ids
  }

  /**
   * Up to `limit` ids (newest first, older than `beforeId`) of each followed celebrity's recent
   * posts, as one list per celebrity.
   */
  async recentIds(userId: string, limit: number, beforeId?: string): Promise<string[][]> {
    const celebrities = await this.followed(userId)
    return Promise.all(celebrities.map((authorId) => this.#authorIds(authorId, limit, beforeId)))
  }

  async #authorIds(authorId: string, limit: number, beforeId?: string): Promise<string[]> {
    const ids = await this.#o.store.authorPage(authorId, limit, beforeId)
    if (ids !== null) return ids
    const all = await this.#fills.do(authorId, () => this.#fillAuthor(authorId))
    const below = beforeId === undefined ? all : all.filter((id) => BigInt(id) < BigInt(beforeId))
    return below.slice(0, limit)
  }

  /** An author's newest AUTHOR_RECENT_CAP posts from Postgres, written back as their recent set. */
  async #fillAuthor(authorId: string): Promise<string[]> {
    const { rows } = await countedQuery<{ id: string }>(
      this.#o.metrics,
      { pool: this.#o.replica, target: 'replica' },
      'author_recent',
      `SELECT id::text AS id FROM posts WHERE author_id = $1 AND deleted_at IS NULL
       ORDER BY posts.id DESC LIMIT $2`,
      [authorId, this.#o.authorRecentCap],
    )
    const ids = rows.map((r) => r.id)
    // Marks the set complete (an author with no posts too, so their followers stop asking Postgres).
    await this.#o.store.buildAuthor(authorId, ids)
    return ids
  }
}
