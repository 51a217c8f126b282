/**
 * Every Redis key of the feed, built here and nowhere else (the service, the fixture and the
 * experiments share this builder). All on the cache Redis (`REDIS_URL`), under one prefix
 * (`REDIS_KEY_PREFIX`, default `feed`).
 */
export class Keys {
  readonly prefix: string

  constructor(prefix = 'feed') {
    this.prefix = prefix
  }

  /**
   * A user's home timeline: a sorted set, member = post id, score = the same id (ids are
   * time-ordered, see ids.ts), plus the sentinel member `TIMELINE_SENTINEL` at score 0 so an
   * empty but built timeline exists. No key = not built (inactive user, or flushed): fan-out
   * skips it and the next read rebuilds it from Postgres.
   */
  timeline(userId: string): string {
    return `${this.prefix}:tl:${userId}`
  }

  /**
   * An author's recent post ids (a sorted set like a timeline): read-time merge of celebrities.
   * The sentinel marks it complete (filled from Postgres); without it, the set only holds posts
   * added since it was lost, and readers fill it again.
   */
  authorPosts(authorId: string): string {
    return `${this.prefix}:ap:${authorId}`
  }

  /** A post, as JSON (`CachedPost`), or the tombstone `{"deleted":true}` after a delete. */
  post(postId: string): string {
    return `${this.prefix}:post:${postId}`
  }

  /** The LSN of a user's last commit (read-your-writes), kept RYW_WINDOW_S. */
  sessionLsn(userId: string): string {
    return `${this.prefix}:lsn:${userId}`
  }

  /** The ids of the celebrities a user follows (JSON array), kept CELEBRITY_CACHE_TTL_S. */
  followedCelebrities(userId: string): string {
    return `${this.prefix}:celebs:${userId}`
  }

  /**
   * The authors a user unfollowed in the last UNFOLLOW_GUARD_S (a sorted set, member = author id,
   * score = when, in ms): fan-out refuses to push their posts to this user, so a worker that read
   * its follower page just before the unfollow committed cannot put a post back after the unfollow
   * took the author's posts out. A follow removes the author from it.
   */
  unfollowed(userId: string): string {
    return `${this.prefix}:unf:${userId}`
  }

  /**
   * A counter bumped whenever an author becomes pulled (fanout/pulled-authors.ts): a cached
   * followed-celebrities list stores the epoch it was computed at and is stale once it changed.
   */
  celebrityEpoch(): string {
    return `${this.prefix}:celeb-epoch`
  }

  /** The cross-instance lease of one timeline's rebuild (rebuildSingleFlight). */
  rebuildLease(userId: string): string {
    return `${this.prefix}:rebuild:${userId}`
  }

  /** Glob of every key of this prefix (fixture reset). */
  all(): string {
    return `${this.prefix}:*`
  }
}

/** The member that makes a built, empty timeline exist; never returned as a post. */
export const TIMELINE_SENTINEL = '0'
