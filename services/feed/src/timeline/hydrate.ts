/**
 * Turns a page of post ids into posts: one MGET on the post cache; the ids it misses from the
 * replica, the ones the replica does not have yet (lag) from the primary; what Postgres returned
 * is written back (posts, and tombstones for deleted ones). Deleted posts and ids that exist
 * nowhere are dropped, so the page may come out shorter than asked (the reader fetches more).
 */
import type pg from 'pg'
import { isDeleted, type PostCache } from '../post-cache.ts'
import type { Post } from '../types.ts'
import { countedQuery, type ReaderMetrics } from './metrics.ts'
import { rowToPost } from './own-posts.ts'

export interface HydratorOptions {
  postCache: PostCache
  primary: pg.Pool
  replica: pg.Pool
  metrics: ReaderMetrics
  log: { warn(obj: object, msg: string): void }
}

interface Row {
  id: string
  author_id: string
  text: string
  created_at: Date
  deleted: boolean
}

const byIdsSql = `SELECT id::text AS id, author_id::text AS author_id, text, created_at,
  deleted_at IS NOT NULL AS deleted FROM posts WHERE id = ANY($1::bigint[])`

export class Hydrator {
  readonly #o: HydratorOptions

  constructor(options: HydratorOptions) {
    this.#o = options
  }

  /**
   * The posts of `ids`, in their order, deleted ones dropped. `known` are posts already read from
   * Postgres by this request (the user's own, read-your-writes); a tombstone in the cache still
   * wins over them, since the replica they came from may not have seen the delete yet.
   */
  async hydrate(ids: readonly string[], known: ReadonlyMap<string, Post> = new Map()): Promise<Post[]> {
    const cached = await this.#o.postCache.getMany(ids)
    const found = new Map<string, Post>()
    const missing: string[] = []
    for (const id of ids) {
      const hit = cached.get(id)
      if (hit) {
        if (!isDeleted(hit)) found.set(id, hit)
      } else {
        const own = known.get(id)
        if (own) found.set(id, own)
        else missing.push(id)
      }
    }
    if (missing.length > 0) {
      this.#o.metrics.hydrateMisses.inc(missing.length)
      for (const post of await this.#fromPostgres(missing)) found.set(post.id, post)
    }
    return ids.flatMap((id) => found.get(id) ?? [])
  }

  /** Replica first, primary for what it lacks; everything found is written back to the cache. */
  async #fromPostgres(ids: string[]): Promise<Post[]> {
    const { metrics, primary, replica } = this.#o
    const rows = (
      await countedQuery<Row>(metrics, { pool: replica, target: 'replica' }, 'hydrate', byIdsSql, [ids])
    ).rows
    if (rows.length < ids.length) {
      const seen = new Set(rows.map((r) => r.id))
      const lagging = ids.filter((id) => !seen.has(id))
      const more = await countedQuery<Row>(
        metrics,
        { pool: primary, target: 'primary' },
        'hydrate',
        byIdsSql,
        [lagging],
      )
      rows.push(...more.rows)
    }
    const live = rows.filter((r) => !r.deleted).map(rowToPost)
    await this.#writeBack(
      live,
      rows.filter((r) => r.deleted).map((r) => r.id),
    ).catch((err) => this.#o.log.warn({ err }, 'post cache write-back failed'))
    return live
  }

  async #writeBack(posts: Post[], deletedIds: string[]): Promise<void> {
    // NX: a tombstone written by a delete since our miss must not be replaced by the live row.
    await this.#o.postCache.fillMany(posts)
    for (const id of deletedIds) await this.#o.postCache.putTombstone(id)
  }
}
