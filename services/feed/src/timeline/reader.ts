/**
 * The home timeline's read path (TimelineReader):
 *   ids = the user's timeline in Redis (rebuilt from Postgres when cold, see rebuild.ts)
 *       ∪ the recent ids of the celebrities they follow (hybridFanout, celebrities.ts)
 *       ∪ their own newest posts within the read-your-writes window (own-posts.ts)
 *   → merged newest first, deduplicated, `limit` taken → hydrated (hydrate.ts), deleted dropped;
 *   a page that came out short is topped up from below the last id considered.
 * The cursor is a post id and every source is read strictly below it, so a page never repeats or
 * skips an item because of posts created meanwhile: those have larger ids (ids.ts).
 */
import { createRedisLease } from '@faultline/kit/redis-lease'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import type { Registry } from 'prom-client'
import type { Config } from '../config.ts'
import type { MitigationState } from '../mitigations.ts'
import type { PostCache } from '../post-cache.ts'
import type { SessionLsn } from '../session-lsn.ts'
import type { TimelineStore } from '../timeline-store.ts'
import type { Post, TimelinePage, TimelineReader } from '../types.ts'
import { CelebrityMerge } from './celebrities.ts'
import { Hydrator } from './hydrate.ts'
import { createReaderMetrics, type ReaderMetrics } from './metrics.ts'
import { OwnRecentPosts } from './own-posts.ts'
import { TimelineRebuilder } from './rebuild.ts'

/** Structural subset of a pino logger. */
export interface ReaderLog {
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface TimelineReaderOptions {
  config: Config
  /** Pools already on the feed's schema (search_path = DB_SCHEMA). */
  primary: pg.Pool
  replica: pg.Pool
  /** The cache Redis (followed-celebrities cache, rebuild lease). */
  redis: Redis
  store: TimelineStore
  postCache: PostCache
  sessionLsn: SessionLsn
  mitigations: MitigationState
  /** Where the reader registers its `feed_*` metrics. */
  registry: Registry
  log: ReaderLog
}

/** How many times one read tops up a page that deleted posts made short, at most. */
const MAX_TOP_UPS = 4

export function createTimelineReader(options: TimelineReaderOptions): HomeTimelineReader {
  return new HomeTimelineReader(options)
}

/** The ids one round gathered, and whether every source ran out below them. */
interface Gathered {
  ids: string[]
  own: Post[]
  exhausted: boolean
}

export class HomeTimelineReader implements TimelineReader {
  readonly metrics: ReaderMetrics
  readonly rebuilder: TimelineRebuilder
  readonly #o: TimelineReaderOptions
  readonly #celebrities: CelebrityMerge
  readonly #own: OwnRecentPosts
  readonly #hydrator: Hydrator

  constructor(o: TimelineReaderOptions) {
    this.#o = o
    const { config, store, redis } = o
    const metrics = createReaderMetrics(o.registry)
    this.metrics = metrics
    const routeFor = (userId: string) => o.sessionLsn.routeFor(userId)
    this.rebuilder = new TimelineRebuilder({
      store,
      redis,
      lease: createRedisLease(redis, {
        key: (userId) => store.keys.rebuildLease(userId),
        leaseMs: config.rebuildLeaseMs,
      }),
      primary: o.primary,
      routeFor,
      mitigations: o.mitigations,
      metrics,
      log: o.log,
      timelineCap: config.timelineCap,
      celebrityThreshold: config.celebrityThreshold,
      concurrency: config.rebuildConcurrency,
      queue: config.rebuildQueue,
      waitMs: config.rebuildWaitMs,
      statementTimeoutMs: config.rebuildStatementTimeoutMs,
    })
    this.#celebrities = new CelebrityMerge({
      redis,
      keys: store.keys,
      store,
      replica: o.replica,
      primary: o.primary,
      routeFor,
      threshold: config.celebrityThreshold,
      cacheTtlMs: config.celebrityCacheTtlMs,
      authorRecentCap: config.authorRecentCap,
      metrics,
    })
    this.#own = new OwnRecentPosts({ redis, keys: store.keys, sessionLsn: o.sessionLsn, metrics })
    this.#hydrator = new Hydrator({
      postCache: o.postCache,
      primary: o.primary,
      replica: o.replica,
      metrics,
      log: o.log,
    })
  }

  async read(userId: string, page: { limit: number; cursor?: string }): Promise<TimelinePage | null> {
    const { limit, cursor } = page
    let first = await this.#o.store.timelinePage(userId, limit, cursor)
    let result: 'hit' | 'rebuilt' = 'hit'
    if (first === null || (first.length < limit && (await this.rebuilder.inProgress(userId)))) {
      // Cold, or being rebuilt right now (the timeline exists but may not hold its posts yet).
      const built = await this.rebuilder.ensureBuilt(userId)
      if (built === 'missing') return null
      first = built === 'built' ? await this.#o.store.timelinePage(userId, limit, cursor) : null
      if (first === null) {
        this.metrics.reads.inc({ result: 'rebuilding' })
        return { items: [], nextCursor: null, rebuilding: true }
      }
      result = 'rebuilt'
    }
    const items = await this.#assemble(userId, limit, cursor, first)
    this.metrics.reads.inc({ result })
    return { ...items, rebuilding: false }
  }

  /**
   * Fills a page: gather `want` ids below the scan position from every source, hydrate them,
   * repeat while deleted posts left it short and the sources have more.
   */
  async #assemble(
    userId: string,
    limit: number,
    cursor: string | undefined,
    firstTimelineIds: string[],
  ): Promise<{ items: Post[]; nextCursor: string | null }> {
    const items: Post[] = []
    let scan = cursor
    let timelineIds: string[] | null = firstTimelineIds
    for (let round = 0; round <= MAX_TOP_UPS; round++) {
      const want = limit - items.length
      timelineIds ??= (await this.#o.store.timelinePage(userId, want, scan)) ?? []
      const gathered = await this.#gather(userId, want, scan, timelineIds)
      timelineIds = null
      const known = new Map(gathered.own.map((p) => [p.id, p]))
      items.push(...(await this.#hydrator.hydrate(gathered.ids, known)))
      scan = gathered.ids.at(-1) ?? scan
      if (gathered.exhausted) return { items, nextCursor: null }
      if (items.length >= limit) break
    }
    // Not exhausted: the next page starts below the last id this one considered.
    return { items, nextCursor: scan ?? null }
  }

  /** One round's ids: every source below `scan`, merged newest first, deduplicated, `want` kept. */
  async #gather(
    userId: string,
    want: number,
    scan: string | undefined,
    timelineIds: string[],
  ): Promise<Gathered> {
    const hybrid = this.#o.mitigations.current.hybridFanout
    const [celebrityLists, own] = await Promise.all([
      hybrid ? this.#celebrities.recentIds(userId, want, scan) : Promise.resolve([]),
      this.#own.recent(userId, want, scan),
    ])
    const lists = [timelineIds, ...celebrityLists, own.map((p) => p.id)]
    const union = [...new Set(lists.flat())].sort(compareIdsDesc)
    // A source that returned a full `want` may have more below; with none full, the union is all there is.
    const exhausted = lists.every((l) => l.length < want) && union.length <= want
    return { ids: union.slice(0, want), own, exhausted }
  }
}

/** Post ids are decimal strings of up to 16 digits: longer is larger, equal length compares as text. */
function compareIdsDesc(a: string, b: string): number {
  if (a.length !== b.length) return b.length - a.length
  return a < b ? 1 : a > b ? -1 : 0
}
