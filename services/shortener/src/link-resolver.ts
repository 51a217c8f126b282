import { setTimeout as sleep } from 'node:timers/promises'
import type { RedisLease } from '@faultline/kit/redis-lease'
import { Bulkhead, BulkheadFullError, SingleFlight, TimeoutError, withTimeout } from '@faultline/resilience'
import { OverloadedError, StorageUnavailableError } from './errors.ts'
import type { CacheEntry, LinkCache } from './link-cache.ts'
import type { LocalLinkCache } from './local-link-cache.ts'
import type { ShortenerMetrics } from './metrics.ts'
import type { MitigationState } from './mitigations.ts'
import type { LinkRepository } from './repositories/links.ts'

export type Resolution = { kind: 'link'; url: string; expiresAtMs: number | null } | { kind: 'missing' }

/** Structural subset of a pino logger. */
export interface Log {
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

/** Lets one instance at a time fill a code from Postgres, across instances (a Redis lease). */
export type FillLease = Pick<RedisLease, 'acquire' | 'release'>

export interface LinkResolverOptions {
  cache: LinkCache
  /** The per-process tier in front of Redis (links only); absent = every lookup asks Redis. */
  local?: LocalLinkCache
  repo: Pick<LinkRepository, 'findTarget'>
  mitigations: MitigationState
  metrics: ShortenerMetrics
  log: Log
  /** Cold path (coldPathLimit): fills running at once, fills waiting, and how long one may wait. */
  coldPathConcurrency: number
  coldPathQueue: number
  coldPathWaitMs: number
  /**
   * Cross-instance half of singleFlight: the instance whose fill holds the lease reads Postgres;
   * the others poll the cache — taking the lease over if it is let go without a fill — for up to
   * `fillWaitMs` (default 1000), then read Postgres anyway. Omit for a per-process single-flight
   * only.
   */
  fillLease?: FillLease
  fillWaitMs?: number
  fillPollMs?: number
  /**
   * A fill's deadline (cold-path wait + pool wait + query); 0 or absent = none. Past it the
   * redirect gets a 503 and the row, if it comes later, is not cached: the query still runs to
   * the end (pg cannot take back a queued query), its work is wasted — with enough misses queued
   * ahead of it, every fill is (pm02: timeouts prevent refill).
   */
  fillTimeoutMs?: number
  now?: () => number
}

/**
 * The redirect path's read: this process's memory (LocalLinkCache, links seen in the last
 * second), then Redis (cache-aside), then Postgres on a miss, then fill Redis.
 * Each mitigation is read at the moment it matters, from the one MitigationState:
 * - singleFlight: concurrent misses on one code share one fill (and, with a FillLease, one
 *   instance fills while the others wait for the cache) — pm10's stampede becomes one read.
 * - negativeCache: an unknown code is cached as "missing" for a short TTL.
 * - staleWhileRevalidate: an entry past its soft TTL is served while one background fill runs.
 * - coldPathLimit: fills go through a bulkhead; past it, a miss gets a fast 503 instead of
 *   queueing on the pool until everything times out (pm02).
 * A Redis failure is a miss, never an error: Postgres is the truth.
 */
export class LinkResolver {
  readonly #o: LinkResolverOptions
  readonly #now: () => number
  readonly #flights = new SingleFlight<string, Resolution>()
  readonly #bulkhead: Bulkhead
  readonly #refreshing = new Set<string>()

  constructor(options: LinkResolverOptions) {
    this.#o = options
    this.#now = options.now ?? Date.now
    this.#bulkhead = new Bulkhead({
      name: 'cold-path',
      maxConcurrent: options.coldPathConcurrency,
      maxQueue: options.coldPathQueue,
    })
    options.mitigations.subscribe((m) => {
      this.#flights.enabled = m.singleFlight
      this.#bulkhead.enabled = m.coldPathLimit
    })
  }

  get coldPath() {
    return this.#bulkhead.stats()
  }

  async resolve(code: string): Promise<Resolution> {
    const { metrics, local } = this.#o
    const copy = local?.get(code)
    if (copy) {
      metrics.cacheHits.inc({ kind: 'local' })
      return { kind: 'link', url: copy.url, expiresAtMs: copy.expiresAtMs }
    }
    const m = this.#o.mitigations.current
    let cached: CacheEntry | undefined
    try {
      cached = await this.#o.cache.get(code)
    } catch (err) {
      metrics.cacheErrors.inc({ op: 'get' })
      this.#o.log.warn({ err, code }, 'cache read failed; reading Postgres')
    }
    if (cached) {
      const fresh = cached.staleAtMs > this.#now()
      if (cached.kind === 'missing') {
        if (m.negativeCache && fresh) {
          metrics.cacheHits.inc({ kind: 'missing' })
          return { kind: 'missing' }
        }
      } else if (fresh) {
        metrics.cacheHits.inc({ kind: 'link' })
        local?.set(code, cached, cached.staleAtMs)
        return { kind: 'link', url: cached.url, expiresAtMs: cached.expiresAtMs }
      } else if (m.staleWhileRevalidate) {
        metrics.cacheHits.inc({ kind: 'stale' })
        this.#revalidate(code)
        return { kind: 'link', url: cached.url, expiresAtMs: cached.expiresAtMs }
      }
    }
    metrics.cacheMisses.inc()
    const leader = !this.#flights.has(code)
    if (!leader && m.singleFlight) metrics.fillsJoined.inc()
    const filled = await this.#flights.do(code, () => this.#fill(code))
    if (filled.kind === 'link') local?.set(code, filled)
    return filled
  }

  /** One background fill per code per process, whatever singleFlight says (it only runs on stale hits). */
  #revalidate(code: string): void {
    if (this.#refreshing.has(code)) return
    this.#refreshing.add(code)
    this.#flights
      .do(code, () => this.#fill(code))
      .catch(() => {})
      .finally(() => this.#refreshing.delete(code))
  }

  async #fill(code: string): Promise<Resolution> {
    const lease = this.#o.mitigations.current.singleFlight ? this.#o.fillLease : undefined
    if (!lease) return this.#readAndStore(code)
    const deadline = this.#now() + (this.#o.fillWaitMs ?? 1000)
    const pollMs = this.#o.fillPollMs ?? 10
    for (;;) {
      let holding: boolean
      try {
        holding = await lease.acquire(code)
      } catch {
        // No lease without Redis: read Postgres at once (nobody can fill the cache anyway).
        return this.#readAndStore(code)
      }
      if (holding) {
        try {
          // The previous holder may have filled the cache between our miss and our lease.
          const filled = await this.#cached(code).catch(() => undefined)
          if (filled) {
            this.#o.metrics.fillsJoined.inc()
            return filled
          }
          return await this.#readAndStore(code)
        } finally {
          await lease.release(code).catch(() => {})
        }
      }
      // Another instance is filling: wait for its fill as long as it holds the lease. If it lets
      // go without filling (its read failed, or it died and the lease expired), the next round
      // takes the lease. A slow fill (a cold connection to a slow Postgres) must not make every
      // waiter read Postgres too: that is the per-instance stampede the lease exists to prevent.
      if (this.#now() >= deadline) return this.#readAndStore(code)
      await sleep(pollMs)
      let filled: Resolution | undefined
      try {
        filled = await this.#cached(code)
      } catch {
        return this.#readAndStore(code)
      }
      if (filled) {
        this.#o.metrics.fillsJoined.inc()
        return filled
      }
    }
  }

  /** A fresh cache entry for `code` as a resolution; undefined when absent or stale. */
  async #cached(code: string): Promise<Resolution | undefined> {
    const entry = await this.#o.cache.get(code)
    if (!entry || entry.staleAtMs <= this.#now()) return undefined
    return entry.kind === 'link'
      ? { kind: 'link', url: entry.url, expiresAtMs: entry.expiresAtMs }
      : { kind: 'missing' }
  }

  async #readAndStore(code: string): Promise<Resolution> {
    const resolution = await this.#readPostgres(code)
    await this.#store(code, resolution)
    return resolution
  }

  async #readPostgres(code: string): Promise<Resolution> {
    const { metrics } = this.#o
    const timeoutMs = this.#o.fillTimeoutMs ?? 0
    const read = () =>
      this.#bulkhead.run(
        () => {
          metrics.dbLookups.inc()
          return this.#o.repo.findTarget(code)
        },
        { signal: AbortSignal.timeout(this.#o.coldPathWaitMs) },
      )
    try {
      const target = timeoutMs > 0 ? await withTimeout(read, timeoutMs) : await read()
      return target
        ? { kind: 'link', url: target.url, expiresAtMs: target.expiresAt ? target.expiresAt.getTime() : null }
        : { kind: 'missing' }
    } catch (err) {
      if (err instanceof TimeoutError) {
        metrics.fillTimeouts.inc()
        throw new StorageUnavailableError()
      }
      if (err instanceof BulkheadFullError || (err instanceof DOMException && err.name === 'TimeoutError')) {
        metrics.coldPathRejected.inc()
        throw new OverloadedError()
      }
      metrics.dbLookupErrors.inc()
      this.#o.log.error({ err, code }, 'postgres lookup failed')
      throw new StorageUnavailableError()
    }
  }

  async #store(code: string, resolution: Resolution): Promise<void> {
    try {
      if (resolution.kind === 'link') {
        await this.#o.cache.setLink(code, {
          url: resolution.url,
          expiresAt: resolution.expiresAtMs === null ? null : new Date(resolution.expiresAtMs),
        })
      } else if (this.#o.mitigations.current.negativeCache) {
        await this.#o.cache.setMissing(code)
      }
    } catch (err) {
      this.#o.metrics.cacheErrors.inc({ op: 'set' })
      this.#o.log.warn({ err, code }, 'cache fill failed')
    }
  }
}
