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
  /** Pool for a list invalidated by a new pulled author (the replica may lag the flag). */
  primary: pg.Pool
  /** Where this user's reads go (SessionLsn.routeFor): their own last follow must be visible. */
  routeFor(userId: string): Promise<ReadRoute>
  threshold: number
  /** 0 = the list is read from Postgres on every read. */
  cacheTtlMs: number
  authorRecentCap: number
  metrics: ReaderMetrics
}

/** A cached followed-celebrities list and the celebrity epoch it was computed at. */
interface CachedCelebrities {
  epoch: string
  ids: string[]
}

export class CelebrityMerge {
  readonly #o: CelebrityMergeOptions
  readonly #fills = new SingleFlight<string, string[]>()

  constructor(options: CelebrityMergeOptions) {
    this.#o = options
  }

  /**
   * The ids of the celebrities `userId` follows now: at or above the threshold, or pulled before
   * (migrations/0002). Cached with the celebrity epoch it was computed at; a list from an older
   * epoch (an author became pulled since, fanout/pulled-authors.ts) is read again from the
   * primary, because the replica may not have replayed the flag yet.
   */
  async followed(userId: string): Promise<string[]> {
    const { redis, keys, cacheTtlMs } = this.#o
    const key = keys.followedCelebrities(userId)
    let epoch: string | null = null
    let route: ReadRoute | undefined
    if (cacheTtlMs > 0) {
      const [cached = null, current = null] = await redis.mget(key, keys.celebrityEpoch())
      epoch = current ?? '0'
      const list = cached === null ? undefined : (JSON.parse(cached) as CachedCelebrities)
      if (list?.epoch === epoch) return list.ids
      if (list !== undefined) route = { pool: this.#o.primary, target: 'primary' }
    }
    route ??= await this.#o.routeFor(userId)
    const { rows } = await countedQuery<{ id: string }>(
      this.#o.metrics,
      route,
      'followed_celebrities',
      `SELECT f.followee_id::text AS id FROM follows f JOIN users u ON u.id = f.followee_id
       WHERE f.follower_id = $1 AND (u.follower_count >= $2 OR u.pulled)`,
      [userId, this.#o.threshold],
    )
    const ids = rows.map((r) => r.id)
    if (epoch !== null) {
      const entry: CachedCelebrities = { epoch, ids }
      await redis.set(key, JSON.stringify(entry), 'PX', cacheTtlMs)
    }
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
