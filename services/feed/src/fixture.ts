/**
 * What the feed's experiments (`chaos/feed/`) and tools need to set up and check the service's
 * state without knowing its tables or Redis keys: one reset by handle prefix, a graph seeded
 * straight into Postgres by COPY, users, follows and posts made through the API of running
 * instances, active timelines, the timeline Postgres implies and the comparison with what is
 * served, the outbox and fan-out backlog, pm02's flush and pm14's paused replica.
 *
 * Every function takes plain clients — a `pg` Pool opened without the service's search_path, an
 * ioredis client on the cache without a key prefix, a pool on the replica — such as the lab's
 * context or a test's, so nothing here depends on the lab. Schema, key prefix and the settings the
 * checks depend on (TIMELINE_CAP, ACTIVE_WINDOW_S, FANOUT_CELEBRITY_THRESHOLD, POSTS_TOPIC,
 * FANOUT_GROUP_ID) are the service's defaults unless given.
 */
import { inParallel } from '@faultline/resilience'
import type { Redis } from 'ioredis'
import { type CheckReport, checkTimelines } from './check/check-timelines.ts'
import { compareTimeline, idsToLookUp, type TimelineComparison } from './check/compare.ts'
import { type LagSource, type OutboxBacklog, outboxBacklog, waitForDrain } from './check/drain.ts'
import { type ExpectedTimeline, expectedTimelines, postFacts } from './check/expected.ts'
import { loadConfig } from './config.ts'
import * as api from './fixture/api.ts'
import { assertSchemaName, type Db, isInstalled, type Queryable, startsWith, tablesIn } from './fixture/db.ts'
import * as replica from './fixture/replica.ts'
import { type DeletedRows, deleteHandleRows, keysOf, unlinkAll } from './fixture/reset.ts'
import { activateTimelines, activeCount, flushTimelines, timelineIds } from './fixture/timelines.ts'
import { Keys } from './keys.ts'
import { type SeededGraph, type SeedSpec, seedGraph } from './seed/seed-graph.ts'
import type { Post, User } from './types.ts'

export type { CheckReport } from './check/check-timelines.ts'
export type { DiffKind, TimelineComparison, TimelineDiff } from './check/compare.ts'
export { diffKinds, diffTotal } from './check/compare.ts'
export type { LagSource, OutboxBacklog } from './check/drain.ts'
export { groupLag } from './check/drain.ts'
export type { ExpectedTimeline } from './check/expected.ts'
export type { ApiCallOptions, TimelineAnswer, WholeTimeline, WholeTimelineOptions } from './fixture/api.ts'
export { FeedApiError } from './fixture/api.ts'
export type { Db, Queryable } from './fixture/db.ts'
export type { DeletedRows } from './fixture/reset.ts'
export { Keys } from './keys.ts'
export type { GraphSpec } from './seed/graph.ts'
export type { SeededGraph, SeedSpec } from './seed/seed-graph.ts'

/** The cache Redis as the fixture uses it (an ioredis client with no key prefix). */
export type Cache = Redis

/** The clients the fixture works with: Postgres (primary, direct) and the cache Redis. */
export interface FixtureClients {
  pg: Db
  redis: Cache
}

export interface ResetResult extends DeletedRows {
  /** Redis keys removed (timelines, recent sets, cached posts, session LSNs, …). */
  keys: number
}

export interface FeedFixtureOptions {
  /** DB_SCHEMA of the instances (default `feed`). */
  schema?: string
  /** REDIS_KEY_PREFIX of the instances (default `feed`). */
  keyPrefix?: string
  /** TIMELINE_CAP of the instances (default the service's). */
  timelineCap?: number
  /** ACTIVE_WINDOW_S of the instances, in seconds (default the service's). */
  activeWindowS?: number
  /** FANOUT_CELEBRITY_THRESHOLD of the instances (default the service's). */
  celebrityThreshold?: number
  /** POSTS_TOPIC of the instances (default the service's). */
  postsTopic?: string
  /** FANOUT_GROUP_ID of the instances (default the service's). */
  fanoutGroupId?: string
}

export class FeedFixture {
  readonly schema: string
  readonly keys: Keys
  readonly timelineCap: number
  readonly activeWindowMs: number
  readonly celebrityThreshold: number
  readonly postsTopic: string
  readonly fanoutGroupId: string

  constructor(options: FeedFixtureOptions = {}) {
    const defaults = loadConfig({})
    this.schema = options.schema ?? 'feed'
    assertSchemaName(this.schema)
    this.keys = new Keys(options.keyPrefix ?? 'feed')
    this.timelineCap = options.timelineCap ?? defaults.timelineCap
    this.activeWindowMs = (options.activeWindowS ?? defaults.activeWindowMs / 1000) * 1000
    this.celebrityThreshold = options.celebrityThreshold ?? defaults.celebrityThreshold
    this.postsTopic = options.postsTopic ?? defaults.postsTopic
    this.fanoutGroupId = options.fanoutGroupId ?? defaults.fanoutGroupId
  }

  /** Whether the migrations have run (any instance applies them at boot). */
  installed(pg: Queryable): Promise<boolean> {
    return isInstalled(pg, this.schema)
  }

  /**
   * Removes everything of the users whose handle starts with `handlePrefix` — users, follows both
   * ways (followees outside the prefix get their follower_count lowered), posts, outbox rows, and
   * their Redis keys — so a run starts from nothing. Run it while no instance serves those users.
   */
  async reset(clients: FixtureClients, options: { handlePrefix: string }): Promise<ResetResult> {
    if (options.handlePrefix === '')
      throw new TypeError('reset needs a handle prefix: it never removes every user')
    const removed = await deleteHandleRows(clients.pg, this.schema, options.handlePrefix)
    const keys = await unlinkAll(clients.redis, keysOf(this.keys, removed.userIds, removed.postIds))
    return { ...removed.rows, keys }
  }

  /**
   * A graph straight into Postgres by COPY (src/seed): users `<handlePrefix><index>` with
   * power-law follower counts, `celebrities` followed by `celebrityFollowers` users each,
   * `postsPerUser` posts each in the past week, follower_count right. Returns the ids by index.
   * Nothing in Redis: every seeded user is inactive until read or `activateTimelines`.
   */
  seedGraph(pg: Db, spec: SeedSpec): Promise<SeededGraph> {
    return seedGraph(pg, this.schema, spec)
  }

  // ---- through the API of running instances (base URLs such as the lab's `ctx.url('api', i)`)

  /** `POST /api/users` for each handle, round-robin over `baseUrls`. */
  createUsers(
    baseUrls: readonly string[],
    handles: readonly string[],
    options?: api.ApiCallOptions & { concurrency?: number },
  ): Promise<User[]> {
    return api.createUsers(baseUrls, handles, options)
  }

  follow(baseUrl: string, userId: string, targetId: string): Promise<void> {
    return api.follow(baseUrl, userId, targetId)
  }

  unfollow(baseUrl: string, userId: string, targetId: string): Promise<void> {
    return api.unfollow(baseUrl, userId, targetId)
  }

  post(baseUrl: string, authorId: string, text: string): Promise<Post> {
    return api.post(baseUrl, authorId, text)
  }

  deletePost(baseUrl: string, postId: string): Promise<void> {
    return api.deletePost(baseUrl, postId)
  }

  /** One page of a home timeline as the API serves it (200, or 206 while rebuilding). */
  timelinePage(baseUrl: string, userId: string, page?: { limit?: number; cursor?: string | null }) {
    return api.timelinePage(baseUrl, userId, page)
  }

  /** Every page of a home timeline, waiting through 206 answers. */
  wholeTimeline(
    baseUrl: string,
    userId: string,
    options?: api.WholeTimelineOptions,
  ): Promise<api.WholeTimeline> {
    return api.wholeTimeline(baseUrl, userId, options)
  }

  // ---- timelines in Redis

  /**
   * Makes users active: builds their timelines in Redis from Postgres, as the service's rebuild
   * does (with `hybrid`, celebrities' posts are left to the read-time merge). Returns how many.
   */
  activateTimelines(
    clients: { pg: Queryable; redis: Cache },
    userIds: readonly string[],
    options: { hybrid?: boolean } = {},
  ): Promise<number> {
    return activateTimelines(clients, this.schema, this.keys, userIds, {
      cap: this.timelineCap,
      activeWindowMs: this.activeWindowMs,
      ...(options.hybrid ? { celebrityThreshold: this.celebrityThreshold } : {}),
    })
  }

  /** Makes users active through the API: one timeline read each (the service rebuilds it). */
  async activateThroughApi(
    baseUrls: readonly string[],
    userIds: readonly string[],
    concurrency = 8,
  ): Promise<void> {
    await inParallel(userIds.length, concurrency, (i) =>
      api.completePage(baseUrls[i % baseUrls.length] as string, userIds[i] as string, { limit: 1 }),
    )
  }

  /** How many of these users are active (have a timeline in Redis). */
  activeCount(redis: Cache, userIds: readonly string[]): Promise<number> {
    return activeCount(redis, this.keys, userIds)
  }

  /** A user's timeline in Redis, newest first (no TTL renewal); null when it does not exist. */
  timelineIds(redis: Cache, userId: string): Promise<string[] | null> {
    return timelineIds(redis, this.keys, userId)
  }

  /** pm02: deletes every timeline of this prefix (the posts cache and the rest stay). */
  flushTimelines(redis: Cache): Promise<number> {
    return flushTimelines(redis, this.keys)
  }

  // ---- what Postgres says, and the comparison

  /**
   * The timeline Postgres implies: followees now + own posts, not deleted, newest first, capped
   * (`cap`, default TIMELINE_CAP). With `celebrityThreshold`, the Redis timeline under hybrid
   * fan-out: celebrities' posts left out. Undefined when the user does not exist.
   */
  async expectedTimeline(
    pg: Queryable,
    userId: string,
    options: { cap?: number; celebrityThreshold?: number } = {},
  ): Promise<ExpectedTimeline | undefined> {
    const found = await expectedTimelines(pg, this.schema, [userId], {
      cap: options.cap ?? this.timelineCap,
      ...(options.celebrityThreshold === undefined ? {} : { celebrityThreshold: options.celebrityThreshold }),
    })
    return found.get(userId)
  }

  /** Counts what is wrong with `observed` (ids as served, in order) against `expected`. */
  async compareTimelines(
    pg: Queryable,
    observed: readonly string[],
    expected: ExpectedTimeline,
  ): Promise<TimelineComparison> {
    const facts = await postFacts(pg, this.schema, idsToLookUp(observed, expected))
    return compareTimeline(observed, expected, facts)
  }

  /** The consistency check of every user of a prefix (or all), read through the API: see check/. */
  checkTimelines(
    pg: Queryable,
    baseUrls: readonly string[],
    options: { handlePrefix?: string; concurrency?: number } = {},
  ): Promise<CheckReport> {
    return checkTimelines({ pg, schema: this.schema, baseUrls, cap: this.timelineCap, ...options })
  }

  /** Outbox rows not yet published, and the oldest one's age. */
  outboxBacklog(pg: Queryable): Promise<OutboxBacklog> {
    return outboxBacklog(pg, this.schema)
  }

  /** Fan-out messages the consumer group has not committed (`kafka`: the lab's `ctx.kafka`, or `groupLag(admin)`). */
  fanoutLag(kafka: LagSource): Promise<number> {
    return kafka.lag(this.fanoutGroupId, this.postsTopic)
  }

  /** Waits until the outbox is empty and the fan-out group's lag is 0 (throws after `timeoutMs`). */
  waitForDrain(
    clients: { pg: Queryable; kafka: LagSource },
    options: { timeoutMs?: number } = {},
  ): Promise<void> {
    return waitForDrain({
      pg: clients.pg,
      schema: this.schema,
      kafka: clients.kafka,
      groupId: this.fanoutGroupId,
      topic: this.postsTopic,
      ...options,
    })
  }

  /** Followers of each user as `follower_count` says. */
  async followerCounts(pg: Queryable, userIds: readonly string[]): Promise<Map<string, number>> {
    const { rows } = await pg.query<{ id: string; n: number }>(
      `SELECT id::text, follower_count AS n FROM ${tablesIn(this.schema).users} WHERE id = ANY($1::bigint[])`,
      [userIds],
    )
    return new Map(rows.map((r) => [r.id, r.n]))
  }

  /** Users (of a handle prefix, or all) whose follower_count differs from their follows rows. */
  async followerCountDrift(pg: Queryable, options: { handlePrefix?: string } = {}): Promise<number> {
    const t = tablesIn(this.schema)
    const { rows } = await pg.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${t.users} u
        WHERE ($1::text IS NULL OR u.handle LIKE $1)
          AND u.follower_count <> (SELECT count(*) FROM ${t.follows} f WHERE f.followee_id = u.id)`,
      [options.handlePrefix === undefined ? null : startsWith(options.handlePrefix)],
    )
    return rows[0]?.n ?? 0
  }

  // ---- pm14: the replica (give these a pool on the replica, the lab's `pgReplica`)

  pauseReplay(pgReplica: Queryable): Promise<void> {
    return replica.pauseReplay(pgReplica)
  }

  resumeReplay(pgReplica: Queryable): Promise<void> {
    return replica.resumeReplay(pgReplica)
  }

  replayPaused(pgReplica: Queryable): Promise<boolean> {
    return replica.replayPaused(pgReplica)
  }

  replicaLagBytes(pg: Queryable, pgReplica: Queryable): Promise<number> {
    return replica.replicaLagBytes(pg, pgReplica)
  }
}

/** The fixture of instances with the default schema and key prefix (every chaos experiment). */
export const fixture = new FeedFixture()
