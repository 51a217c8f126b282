/**
 * The capped id sets in Redis — home timelines and authors' recent posts — behind one small API
 * that the API (follow merge, reads, rebuilds), the fan-out worker and the fixture share. Each
 * write is one Lua script (lua/capped-add-1.lua), so "add if the timeline exists, then trim to the
 * cap" is atomic and idempotent; fan-out calls it for many followers in one pipeline.
 */
import { readFileSync } from 'node:fs'
import type { ChainableCommander, Redis } from 'ioredis'
import { type Keys, TIMELINE_SENTINEL } from './keys.ts'

const addScript = readFileSync(new URL('./lua/capped-add-1.lua', import.meta.url), 'utf8')
const pageScript = readFileSync(new URL('./lua/timeline-page-1.lua', import.meta.url), 'utf8')

type ScriptArg = string | number
interface WithScripts {
  feedCappedAdd(key: string, guardKey: string, ...args: ScriptArg[]): Promise<number>
  feedTimelinePage(key: string, ...args: ScriptArg[]): Promise<string[] | null>
}
interface PipelineWithScripts {
  feedCappedAdd(key: string, guardKey: string, ...args: ScriptArg[]): ChainableCommander
}

/** Registers the scripts on a client (EVALSHA, reloaded on NOSCRIPT by ioredis). Idempotent. */
export function defineTimelineScripts(redis: Redis): Redis & WithScripts {
  const r = redis as Redis & WithScripts
  if (typeof r.feedCappedAdd !== 'function') {
    redis.defineCommand('feedCappedAdd', { numberOfKeys: 2, lua: addScript })
    redis.defineCommand('feedTimelinePage', { numberOfKeys: 1, lua: pageScript })
  }
  return r
}

export interface TimelineStoreOptions {
  keys: Keys
  /** Posts kept per home timeline (TIMELINE_CAP). */
  timelineCap: number
  /** Posts kept per author's recent set (AUTHOR_RECENT_CAP). */
  authorRecentCap: number
  /** A timeline's TTL, renewed by each read (ACTIVE_WINDOW_S in ms). */
  activeWindowMs: number
  /** How long an unfollowed author's posts are refused by fan-out (UNFOLLOW_GUARD_S in ms). @default 600 000 */
  unfollowGuardMs?: number
}

export interface FanoutResult {
  /** Timelines the id was newly added to. */
  added: number
  /** Timelines that already had it (a redelivery). */
  already: number
  /** Followers without a timeline (inactive): not pushed to. */
  inactive: number
  /** Followers who unfollowed the author after the follower page was read: not pushed to. */
  unfollowed: number
}

export class TimelineStore {
  readonly keys: Keys
  readonly #redis: Redis & WithScripts
  readonly #o: TimelineStoreOptions

  constructor(redis: Redis, options: TimelineStoreOptions) {
    this.#redis = defineTimelineScripts(redis)
    this.#o = options
    this.keys = options.keys
  }

  /**
   * Fan-out: add one post id of `authorId` to the timelines of these users that exist,
   * `pipelineSize` scripts per round trip. Users without a timeline are skipped (inactive; rebuilt
   * when they return), and so are users who unfollowed the author since the page was read.
   */
  async pushToActive(
    userIds: readonly string[],
    authorId: string,
    postId: string,
    pipelineSize: number,
  ): Promise<FanoutResult> {
    const result: FanoutResult = { added: 0, already: 0, inactive: 0, unfollowed: 0 }
    const { keys, timelineCap } = this.#o
    for (let i = 0; i < userIds.length; i += pipelineSize) {
      const pipe = this.#redis.pipeline() as ChainableCommander & PipelineWithScripts
      for (const userId of userIds.slice(i, i + pipelineSize)) {
        pipe.feedCappedAdd(
          keys.timeline(userId),
          keys.unfollowed(userId),
          timelineCap,
          0,
          0,
          0,
          authorId,
          postId,
        )
      }
      for (const [err, value] of (await pipe.exec()) ?? []) {
        if (err) throw err
        if (value === -1) result.inactive++
        else if (value === -2) result.unfollowed++
        else if (value === 1) result.added++
        else result.already++
      }
    }
    return result
  }

  /**
   * After a follow committed: the author is no longer refused (see `unfollowed` in keys.ts), then
   * their newest ids are merged into the follower's timeline if it exists. Returns -1 when it does not.
   */
  async follow(followerId: string, authorId: string, postIds: readonly string[]): Promise<number> {
    await this.#redis.zrem(this.keys.unfollowed(followerId), authorId)
    return this.addToTimeline(followerId, postIds)
  }

  /**
   * After an unfollow committed, in one transaction: the author goes into the follower's
   * recently-unfollowed set (fan-out refuses their posts from then on; entries older than the
   * guard are pruned) and their ids leave the follower's timeline. A fan-out that read its follower
   * page before the unfollow therefore either lands before this (and is removed) or is refused.
   */
  async unfollow(followerId: string, authorId: string, postIds: readonly string[]): Promise<void> {
    const guard = this.keys.unfollowed(followerId)
    const guardMs = this.#o.unfollowGuardMs ?? 600_000
    const now = Date.now()
    const tx = this.#redis
      .multi()
      .zadd(guard, now, authorId)
      .zremrangebyscore(guard, '-inf', now - guardMs)
      .pexpire(guard, guardMs)
    if (postIds.length > 0) tx.zrem(this.keys.timeline(followerId), ...postIds)
    const replies = (await tx.exec()) ?? []
    for (const [err] of replies) if (err) throw err
  }

  /**
   * A rebuild's repair: the posts of `posts` whose author the user unfollowed since `sinceMs` (a
   * second of margin for the instances' clocks) leave the timeline. The rebuild calls it after its
   * add: an unfollow whose transaction ran before the add is undone here, one after it removed the
   * posts itself. Returns how many ids were removed.
   */
  async dropUnfollowedSince(
    userId: string,
    sinceMs: number,
    posts: ReadonlyArray<{ id: string; authorId: string }>,
  ): Promise<number> {
    if (posts.length === 0) return 0
    const recent = new Set(
      await this.#redis.zrangebyscore(this.keys.unfollowed(userId), sinceMs - 1000, '+inf'),
    )
    const ids = posts.filter((p) => recent.has(p.authorId)).map((p) => p.id)
    return ids.length === 0 ? 0 : this.#redis.zrem(this.keys.timeline(userId), ...ids)
  }

  /** Adds ids to a user's timeline if it exists (the follow merge). Returns -1 when it does not. */
  addToTimeline(userId: string, postIds: readonly string[]): Promise<number> {
    if (postIds.length === 0) return Promise.resolve(0)
    return this.#add(this.keys.timeline(userId), this.#o.timelineCap, 0, 0, 0, ...postIds)
  }

  /**
   * Creates (or completes) a user's timeline with these ids and the active-window TTL: the rebuild.
   * Create the empty timeline first (`postIds` empty) and then add what Postgres returned, so a
   * fan-out racing the rebuild lands in the timeline instead of being skipped.
   */
  buildTimeline(userId: string, postIds: readonly string[]): Promise<number> {
    return this.#add(
      this.keys.timeline(userId),
      this.#o.timelineCap,
      1,
      this.#o.activeWindowMs,
      1,
      ...postIds,
    )
  }

  /**
   * Adds ids to an author's recent-posts set (a new post), creating the set when missing — but
   * a set created here is *incomplete* (it lacks the author's older posts, e.g. after a flush or
   * an eviction): it has no sentinel, and `authorPage` answers null for it until `buildAuthor`
   * completed it from Postgres. No TTL: the cache Redis evicts by LRU.
   */
  addToAuthor(authorId: string, postIds: readonly string[]): Promise<number> {
    if (postIds.length === 0) return Promise.resolve(0)
    return this.#add(this.keys.authorPosts(authorId), this.#o.authorRecentCap, 1, 0, 0, ...postIds)
  }

  /** Completes an author's recent set with their newest ids from Postgres and marks it complete. */
  buildAuthor(authorId: string, postIds: readonly string[]): Promise<number> {
    return this.#add(this.keys.authorPosts(authorId), this.#o.authorRecentCap, 1, 0, 1, ...postIds)
  }

  /**
   * The script without the unfollow check (no author, ARGV[5] = ''); KEYS[2] is then never read,
   * and the set itself stands in for it.
   */
  #add(
    key: string,
    cap: number,
    create: 0 | 1,
    ttlMs: number,
    sentinel: 0 | 1,
    ...ids: string[]
  ): Promise<number> {
    return this.#redis.feedCappedAdd(key, key, cap, create, ttlMs, sentinel, '', ...ids)
  }

  /** Drops a user's timeline (a rebuild that failed after creating it: the next read retries). */
  async deleteTimeline(userId: string): Promise<void> {
    await this.#redis.unlink(this.keys.timeline(userId))
  }

  /** Removes post ids from these users' timelines (delete fan-out, unfollow), pipelined. */
  async removeFromTimelines(
    userIds: readonly string[],
    postIds: readonly string[],
    pipelineSize: number,
  ): Promise<void> {
    if (postIds.length === 0) return
    for (let i = 0; i < userIds.length; i += pipelineSize) {
      const pipe = this.#redis.pipeline()
      for (const userId of userIds.slice(i, i + pipelineSize))
        pipe.zrem(this.keys.timeline(userId), ...postIds)
      for (const [err] of (await pipe.exec()) ?? []) if (err) throw err
    }
  }

  /** Removes post ids from an author's recent set (a delete). */
  async removeFromAuthor(authorId: string, postIds: readonly string[]): Promise<void> {
    if (postIds.length > 0) await this.#redis.zrem(this.keys.authorPosts(authorId), ...postIds)
  }

  /**
   * One page of a user's timeline, ids newest first, strictly older than `beforeId` when given; the
   * timeline's TTL is renewed. `null` = the timeline does not exist (rebuild it).
   */
  timelinePage(userId: string, limit: number, beforeId?: string): Promise<string[] | null> {
    return this.#redis.feedTimelinePage(
      this.keys.timeline(userId),
      beforeId === undefined ? '+inf' : `(${beforeId}`,
      limit,
      this.#o.activeWindowMs,
    )
  }

  /**
   * Ids of an author's recent set, newest first, older than `beforeId`; `null` when the set is
   * missing or incomplete (no sentinel: fill it with `buildAuthor`).
   */
  async authorPage(authorId: string, limit: number, beforeId?: string): Promise<string[] | null> {
    const key = this.keys.authorPosts(authorId)
    const [[, complete], [, ids]] = ((await this.#redis
      .pipeline()
      .zscore(key, TIMELINE_SENTINEL)
      .zrange(
        key,
        beforeId === undefined ? '+inf' : `(${beforeId}`,
        '(0',
        'BYSCORE',
        'REV',
        'LIMIT',
        0,
        limit,
      )
      .exec()) ?? []) as [[unknown, string | null], [unknown, string[]]]
    return complete === null ? null : ids
  }
}
