import { createMetrics } from '@faultline/kit/metrics'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import type { AppDeps } from './app.ts'
import type { Config } from './config.ts'
import { Keys } from './keys.ts'
import { createApiMetrics } from './metrics.ts'
import { createMitigationState } from './mitigations.ts'
import { PostCache } from './post-cache.ts'
import { FollowRepository } from './repositories/follows.ts'
import { PostRepository } from './repositories/posts.ts'
import { UserRepository } from './repositories/users.ts'
import type { WriteDeps } from './routes/write-context.ts'
import { SessionLsn } from './session-lsn.ts'
import { createTimelineReader } from './timeline/reader.ts'
import { TimelineStore } from './timeline-store.ts'

export interface Log {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface FeedClients {
  /** Pools on the feed's schema (search_path = DB_SCHEMA): writes go to the primary. */
  primary: pg.Pool
  replica: pg.Pool
  /** The cache Redis (timelines, author sets, post cache, session LSNs). */
  redis: Redis
  log: Log
}

/**
 * Wires the API's domain objects from config and ready clients: what server.ts runs and what the
 * infra tests build (test/helpers.ts), so both exercise the same object graph. Owns nothing it
 * must close — the clients belong to the caller.
 */
export function createFeed(config: Config, clients: FeedClients) {
  const { primary, replica, redis, log } = clients
  const kitMetrics = createMetrics({ defaultLabels: { service: 'feed', instance: config.instanceId } })
  const apiMetrics = createApiMetrics(kitMetrics, { primary, replica })
  const mitigations = createMitigationState(config.mitigations)
  const keys = new Keys(config.redisKeyPrefix)
  const store = new TimelineStore(redis, {
    keys,
    timelineCap: config.timelineCap,
    authorRecentCap: config.authorRecentCap,
    activeWindowMs: config.activeWindowMs,
    unfollowGuardMs: config.unfollowGuardMs,
  })
  const postCache = new PostCache(redis, keys, config.postCacheTtlMs)
  const sessionLsn = new SessionLsn({
    redis,
    keys,
    primary,
    replica,
    windowMs: config.rywWindowMs,
    replicaLsnCacheMs: config.replicaLsnCacheMs,
    enabled: () => mitigations.current.readYourWrites,
  })
  const users = new UserRepository(primary, apiMetrics)
  const posts = new PostRepository(primary, apiMetrics)
  const follows = new FollowRepository(primary, apiMetrics)
  const reader = createTimelineReader({
    config,
    primary,
    replica,
    redis,
    store,
    postCache,
    sessionLsn,
    mitigations,
    registry: kitMetrics.registry,
    log,
  })
  const write: WriteDeps = {
    users,
    posts,
    follows,
    store,
    postCache,
    sessionLsn,
    redis,
    keys,
    mitigations,
    metrics: apiMetrics,
    timelineCap: config.timelineCap,
    celebrityThreshold: config.celebrityThreshold,
    postTextMax: config.postTextMax,
  }
  const appDeps: AppDeps = {
    write,
    reader,
    page: { pageDefault: config.pageDefault, pageMax: config.pageMax },
    mitigations,
    metrics: kitMetrics,
    bodyLimitBytes: config.bodyLimitBytes,
    logRequests: config.logRequests,
    ...(config.adminToken ? { adminToken: config.adminToken } : {}),
  }
  return {
    appDeps,
    kitMetrics,
    apiMetrics,
    mitigations,
    keys,
    store,
    postCache,
    sessionLsn,
    users,
    posts,
    follows,
    reader,
  }
}

export type Feed = ReturnType<typeof createFeed>
