/**
 * Rebuilding a cold timeline (never built, expired after ACTIVE_WINDOW_S, or flushed) from
 * Postgres, with the two pm02 switches read at the moment they matter:
 * - rebuildSingleFlight: concurrent reads of one cold timeline share one rebuild — in-process
 *   (SingleFlight) and across instances (a Redis lease: one instance queries, the others poll
 *   for the timeline it builds).
 * - rebuildAdmission: rebuilds go through a bulkhead (REBUILD_CONCURRENCY running,
 *   REBUILD_QUEUE waiting), and a read waits for its rebuild at most REBUILD_WAIT_MS; past
 *   either, the read answers "rebuilding" (206) instead of adding one more query to a Postgres
 *   that is already behind. The rebuild it started keeps going and serves the retry.
 *   An admitted rebuild's query runs under REBUILD_STATEMENT_TIMEOUT_MS, not the read path's
 *   statement timeout: it is cancelled only when it is truly stuck.
 * Both off (naive): every read of a cold timeline queries Postgres itself, with no limit.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { RedisLease } from '@faultline/kit/redis-lease'
import { Bulkhead, BulkheadFullError, SingleFlight } from '@faultline/resilience'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import type { MitigationState } from '../mitigations.ts'
import type { ReadRoute } from '../session-lsn.ts'
import type { TimelineStore } from '../timeline-store.ts'
import { countedQuery, countedQueryWithTimeout, type ReaderMetrics } from './metrics.ts'

/** What a read learns from `ensureBuilt`: go on reading the timeline, answer 206, or 404. */
export type RebuildResult = 'built' | 'rebuilding' | 'missing'

/** Structural subset of a pino logger. */
export interface RebuildLog {
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface TimelineRebuilderOptions {
  store: TimelineStore
  /** Only to drop a timeline whose rebuild failed (TimelineStore has no delete). */
  redis: Redis
  /** The cross-instance lease of one timeline's rebuild (`feed:rebuild:<user>`). */
  lease: RedisLease
  primary: pg.Pool
  /** Where this user's reads go (SessionLsn.routeFor): their own last follow must be visible. */
  routeFor(userId: string): Promise<ReadRoute>
  mitigations: MitigationState
  metrics: ReaderMetrics
  log: RebuildLog
  timelineCap: number
  celebrityThreshold: number
  concurrency: number
  queue: number
  waitMs: number
  /**
   * `statement_timeout` of an admitted rebuild's query (rebuildAdmission on; 0 = the pool's). A
   * read gives up on its rebuild after `waitMs` and answers 206, but the rebuild goes on for the
   * retry: cancelling it at the read path's statement timeout would throw the work away and leave
   * the timeline cold — Postgres, busy, makes every rebuild slower, more of them are cancelled,
   * and the cache never refills (pm02). The bulkhead, not the timeout, is what bounds rebuilds.
   */
  statementTimeoutMs?: number
  /** How often a read waiting for another instance's rebuild looks for the timeline (default 20). */
  pollMs?: number
}

/**
 * The newest TIMELINE_CAP non-deleted posts of the user and of everyone they follow — without
 * celebrities (or authors pulled before, migrations/0002) when hybridFanout is on ($3 = threshold):
 * they are merged at read time. One index
 * range per author (posts_author_idx), so the cost is followees × cap rows at most, never a sort
 * of every post of every followee.
 */
const rebuildSql = `
SELECT p.id::text AS id, a.author_id::text AS author_id
FROM (
  SELECT $1::bigint AS author_id
  UNION ALL
  SELECT f.followee_id FROM follows f JOIN users u ON u.id = f.followee_id
  WHERE f.follower_id = $1 AND ($3::int IS NULL OR (u.follower_count < $3 AND NOT u.pulled))
) a
CROSS JOIN LATERAL (
  SELECT id FROM posts
  WHERE author_id = a.author_id AND deleted_at IS NULL
  ORDER BY id DESC LIMIT $2
) p
ORDER BY p.id DESC LIMIT $2`

interface RebuildRow {
  id: string
  author_id: string
}

export class TimelineRebuilder {
  readonly #o: TimelineRebuilderOptions
  readonly #flights = new SingleFlight<string, RebuildResult>()
  readonly #bulkhead: Bulkhead

  constructor(options: TimelineRebuilderOptions) {
    this.#o = options
    this.#bulkhead = new Bulkhead({
      name: 'timeline-rebuild',
      maxConcurrent: options.concurrency,
      maxQueue: options.queue,
    })
    options.mitigations.subscribe((m) => {
      this.#flights.enabled = m.rebuildSingleFlight
      this.#bulkhead.enabled = m.rebuildAdmission
    })
  }

  get admission() {
    return this.#bulkhead.stats()
  }

  /** True while a rebuild of this timeline runs in this process or (lease) in another instance. */
  async inProgress(userId: string): Promise<boolean> {
    if (!this.#o.mitigations.current.rebuildSingleFlight) return false
    return this.#flights.has(userId) || (await this.#o.lease.held(userId).catch(() => false))
  }

  /**
   * Makes sure `userId`'s timeline exists, rebuilding it if needed; `missing` when there is no
   * such user (checked before anything is written, so a junk id leaves no key behind).
   */
  async ensureBuilt(userId: string): Promise<RebuildResult> {
    const m = this.#o.mitigations.current
    const follower = m.rebuildSingleFlight && this.#flights.has(userId)
    const flight = this.#flights.do(userId, () => this.#rebuild(userId))
    let result: RebuildResult
    if (m.rebuildAdmission) {
      // The flight goes on after the read gives up: its timeline serves the read's retry.
      flight.catch(() => {})
      const timer = sleep(this.#o.waitMs, undefined, { ref: false }).then((): RebuildResult => 'rebuilding')
      result = await Promise.race([flight, timer])
    } else {
      result = await flight
    }
    // The flight counted its own outcome once; a read that joined it counts as shared.
    if (follower && result === 'built') this.#o.metrics.rebuilds.inc({ outcome: 'shared' })
    return result
  }

  /** One flight: the user exists? then (single-flight on) the lease dance, else a rebuild of our own. */
  async #rebuild(userId: string): Promise<RebuildResult> {
    if (!(await this.#userExists(userId))) return 'missing'
    if (!this.#o.mitigations.current.rebuildSingleFlight) return this.#admitAndBuild(userId)
    const { lease, store, metrics } = this.#o
    const deadline = Date.now() + this.#o.waitMs
    for (;;) {
      let holding: boolean
      try {
        holding = await lease.acquire(userId)
      } catch {
        return this.#admitAndBuild(userId)
      }
      if (holding) {
        try {
          // The previous holder may have built it between our miss and our lease.
          if (await store.timelinePage(userId, 1)) {
            metrics.rebuilds.inc({ outcome: 'shared' })
            return 'built'
          }
          return await this.#admitAndBuild(userId)
        } finally {
          await lease.release(userId).catch(() => {})
        }
      }
      // Another instance is rebuilding: wait for its timeline while it holds the lease; if it lets
      // go without building (its query failed, or it died and the lease expired), the next round
      // takes the lease over.
      if (Date.now() >= deadline) {
        if (!this.#o.mitigations.current.rebuildAdmission) return this.#admitAndBuild(userId)
        metrics.rebuilds.inc({ outcome: 'rejected' })
        return 'rebuilding'
      }
      await sleep(this.#o.pollMs ?? 20)
      if (!(await lease.held(userId).catch(() => false)) && (await store.timelinePage(userId, 1))) {
        metrics.rebuilds.inc({ outcome: 'shared' })
        return 'built'
      }
    }
  }

  /** The query under admission control: a full bulkhead or a wait past REBUILD_WAIT_MS is a 206. */
  async #admitAndBuild(userId: string): Promise<RebuildResult> {
    const { metrics } = this.#o
    try {
      await this.#bulkhead.run(() => this.#build(userId), { signal: AbortSignal.timeout(this.#o.waitMs) })
      metrics.rebuilds.inc({ outcome: 'done' })
      return 'built'
    } catch (err) {
      if (isRejection(err)) {
        metrics.rebuilds.inc({ outcome: 'rejected' })
        return 'rebuilding'
      }
      metrics.rebuilds.inc({ outcome: 'failed' })
      this.#o.log.error({ err, userId }, 'timeline rebuild failed')
      throw err
    }
  }

  /**
   * Create the empty timeline first, then query, then add: a fan-out that lands between the
   * query and the add is kept (the timeline exists, so the worker pushes to it), and one that
   * landed before the create is in the query's result; an unfollow between the query and the add
   * is applied again after the add. A failed query removes the empty timeline
   * again, so the next read retries instead of serving an empty page.
   */
  async #build(userId: string): Promise<void> {
    const { store, metrics } = this.#o
    const hybrid = this.#o.mitigations.current.hybridFanout
    await store.buildTimeline(userId, [])
    const queriedAtMs = Date.now()
    try {
      const route = await this.#o.routeFor(userId)
      metrics.rebuildQueries.inc()
      const params = [userId, this.#o.timelineCap, hybrid ? this.#o.celebrityThreshold : null]
      const timeoutMs = this.#o.mitigations.current.rebuildAdmission ? (this.#o.statementTimeoutMs ?? 0) : 0
      const { rows } = await (timeoutMs > 0
        ? countedQueryWithTimeout<RebuildRow>(
            metrics,
            route,
            'timeline_rebuild',
            rebuildSql,
            params,
            timeoutMs,
          )
        : countedQuery<RebuildRow>(metrics, route, 'timeline_rebuild', rebuildSql, params))
      await store.buildTimeline(
        userId,
        rows.map((r) => r.id),
      )
      // An unfollow that committed after the query read the followees, and took the author's
      // posts out before the add above, would leave them in: take them out again.
      await store.dropUnfollowedSince(
        userId,
        queriedAtMs,
        rows.map((r) => ({ id: r.id, authorId: r.author_id })),
      )
    } catch (err) {
      await store.deleteTimeline(userId).catch(() => {})
      throw err
    }
  }

  /** The routed pool first; a user it does not know yet (replica lag) is looked up on the primary. */
  async #userExists(userId: string): Promise<boolean> {
    const sql = 'SELECT 1 FROM users WHERE id = $1'
    const { metrics, primary } = this.#o
    const route = await this.#o.routeFor(userId)
    if ((await countedQuery(metrics, route, 'user_exists', sql, [userId])).rowCount) return true
    if (route.target === 'primary') return false
    const onPrimary = await countedQuery(metrics, { pool: primary, target: 'primary' }, 'user_exists', sql, [
      userId,
    ])
    return Boolean(onPrimary.rowCount)
  }
}

function isRejection(err: unknown): boolean {
  return (
    err instanceof BulkheadFullError ||
    (err instanceof DOMException && (err.name === 'TimeoutError' || err.name === 'AbortError'))
  )
}
