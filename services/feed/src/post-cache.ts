/**
 * The post cache: one JSON string per post under `keys.post(id)`, written through when a post is
 * created (and replaced by a tombstone when it is deleted), read with one MGET per timeline page.
 * Hydration falls back to Postgres for the ids it misses (timeline/hydrate.ts) and writes them back.
 */
import type { Redis } from 'ioredis'
import type { Keys } from './keys.ts'
import type { CachedPost, Post } from './types.ts'

export class PostCache {
  readonly #redis: Redis
  readonly #keys: Keys
  readonly #ttlMs: number

  constructor(redis: Redis, keys: Keys, ttlMs: number) {
    this.#redis = redis
    this.#keys = keys
    this.#ttlMs = ttlMs
  }

  async putMany(posts: readonly Post[]): Promise<void> {
    if (posts.length === 0) return
    const pipe = this.#redis.pipeline()
    for (const post of posts) pipe.set(this.#keys.post(post.id), JSON.stringify(post), 'PX', this.#ttlMs)
    for (const [err] of (await pipe.exec()) ?? []) if (err) throw err
  }

  /**
   * Read-path write-back (SET NX): a post read from Postgres after a cache miss never replaces
   * what is there — a tombstone written by a delete between the miss and the write-back wins.
   */
  async fillMany(posts: readonly Post[]): Promise<void> {
    if (posts.length === 0) return
    const pipe = this.#redis.pipeline()
    for (const post of posts)
      pipe.set(this.#keys.post(post.id), JSON.stringify(post), 'PX', this.#ttlMs, 'NX')
    for (const [err] of (await pipe.exec()) ?? []) if (err) throw err
  }

  /** A deleted post: hydration drops it even where a timeline still holds its id. */
  async putTombstone(postId: string): Promise<void> {
    await this.#redis.set(this.#keys.post(postId), '{"deleted":true}', 'PX', this.#ttlMs)
  }

  /** One MGET: what the cache knows of each id (absent from the map = not cached). */
  async getMany(postIds: readonly string[]): Promise<Map<string, CachedPost>> {
    const found = new Map<string, CachedPost>()
    if (postIds.length === 0) return found
    const values = await this.#redis.mget(postIds.map((id) => this.#keys.post(id)))
    values.forEach((value, i) => {
      const id = postIds[i]
      if (value !== null && id !== undefined) found.set(id, JSON.parse(value) as CachedPost)
    })
    return found
  }
}

export function isDeleted(p: CachedPost): p is { deleted: true } {
  return 'deleted' in p
}
