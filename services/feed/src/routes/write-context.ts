/**
 * What the write routes (users, follows, posts) share: their dependencies, the write counter, and
 * the after-commit side effects.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { Keys } from '../keys.ts'
import type { ApiMetrics, WriteOp } from '../metrics.ts'
import type { MitigationState } from '../mitigations.ts'
import type { PostCache } from '../post-cache.ts'
import type { FollowRepository } from '../repositories/follows.ts'
import type { PostRepository } from '../repositories/posts.ts'
import type { UserRepository } from '../repositories/users.ts'
import type { SessionLsn } from '../session-lsn.ts'
import type { TimelineStore } from '../timeline-store.ts'

export interface WriteDeps {
  users: UserRepository
  posts: PostRepository
  follows: FollowRepository
  store: TimelineStore
  postCache: PostCache
  sessionLsn: SessionLsn
  /** The cache Redis and its keys: the followed-celebrities cache is invalidated on a follow change. */
  redis: Redis
  keys: Keys
  mitigations: MitigationState
  metrics: ApiMetrics
  /** TIMELINE_CAP: how many of a followee's newest posts a follow merges in (and an unfollow takes out). */
  timelineCap: number
  /** FANOUT_CELEBRITY_THRESHOLD: followees with this many followers are merged at read time. */
  celebrityThreshold: number
  /** POST_TEXT_MAX. */
  postTextMax: number
}

export type WriteOutcome = 'done' | 'noop'

/** Counts a write by outcome: the handler's own, or the error's status (409, 404, 400, 5xx). */
export async function countWrite<T extends { outcome: WriteOutcome }>(
  metrics: ApiMetrics,
  op: WriteOp,
  write: () => Promise<T>,
): Promise<T> {
  try {
    const result = await write()
    metrics.writes.inc({ op, outcome: result.outcome })
    return result
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode
    const outcome =
      status === 409 ? 'conflict' : status === 404 ? 'not_found' : status === 400 ? 'invalid' : 'error'
    metrics.writes.inc({ op, outcome })
    throw err
  }
}

/**
 * Runs the cache side effects of a committed write, all at once, and never throws. The write is
 * already durable in Postgres (and its event in the outbox), so answering 500 would tell the client
 * it failed when it did not — a retry would then post twice. Every effect here is repaired
 * elsewhere: a missing post-cache entry is filled by hydration from Postgres, a missing author-set
 * or timeline entry by the fan-out worker (which consumes the outbox event) or by the rebuild of a
 * missing timeline, a stale followed-celebrities list expires after CELEBRITY_CACHE_TTL_S, and a
 * lost session LSN only means the next read may go to the replica (bounded by its lag). So a
 * failure is logged and counted (`feed_after_commit_failures_total`), not returned.
 */
export async function afterCommit(
  deps: { metrics: ApiMetrics; log: FastifyBaseLogger },
  op: WriteOp,
  effects: Record<string, () => Promise<unknown>>,
): Promise<void> {
  const names = Object.keys(effects)
  const results = await Promise.allSettled(names.map(async (name) => effects[name]?.()))
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') return
    const effect = names[i] ?? 'unknown'
    deps.metrics.afterCommitFailures.inc({ op, effect })
    deps.log.warn({ err: result.reason, op, effect }, 'after-commit side effect failed')
  })
}
