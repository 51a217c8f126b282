/**
 * Marks an author pulled (migrations/0002) the first time the fan-out does not push one of their
 * posts, then bumps the celebrity epoch in Redis (keys.ts `celebrityEpoch`): every cached
 * followed-celebrities list was computed before this author was pulled, so readers drop them and
 * ask the primary again (timeline/celebrities.ts). Without the bump, a follower's cached list
 * would miss the new celebrity for up to CELEBRITY_CACHE_TTL_S — their posts in no timeline and
 * merged by no reader. Both writes happen before the post reaches the author's recent set, so a
 * reader that sees the post through the merge sees the author as pulled.
 */
import type { Redis } from 'ioredis'
import type pg from 'pg'
import type { Keys } from '../keys.ts'

export class PulledAuthors {
  readonly #pool: Pick<pg.Pool, 'query'>
  readonly #redis: Pick<Redis, 'incr'>
  readonly #keys: Keys

  constructor(pool: Pick<pg.Pool, 'query'>, redis: Pick<Redis, 'incr'>, keys: Keys) {
    this.#pool = pool
    this.#redis = redis
    this.#keys = keys
  }

  /** Idempotent: a replayed event finds the author pulled and only bumps the epoch again. */
  async mark(authorId: string): Promise<void> {
    await this.#pool.query('UPDATE users SET pulled = true WHERE id = $1 AND NOT pulled', [authorId])
    await this.#redis.incr(this.#keys.celebrityEpoch())
  }
}
