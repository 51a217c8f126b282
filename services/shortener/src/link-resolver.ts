import { setTimeout as sleep } from 'node:timers/promises'
import { Bulkhead, BulkheadFullError, SingleFlight } from '@faultline/resilience'
import { OverloadedError, StorageUnavailableError } from './errors.ts'
import type { CacheEntry, LinkCache } from './link-cache.ts'
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
export interface FillLease {
  /** True when this caller holds the lease for `code` now. */
  acquire(code: string): Promise<boolean>
  release(code: string): Promise<void>
}

export interface LinkResolverOptions {
  cache: LinkCache
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
   * the others poll the cache for up to `fillWaitMs`, then read Postgres anyway. Omit for a
   * per-process single-flight only.
   */
  fillLease?: FillLease
  fillWaitMs?: number
  fillPollMs?: number
  now?: () => number
}

/**
 * The redirect path's read: Redis first (cache-aside), then Postgres on a miss, then fill Redis.
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
    const m = this.#o.mitigations.current
    const { metrics } = this.#o
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
    return this.#flights.do(code, () => this.#fill(code))
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
    let holding = false
    if (lease) {
      let leaseAnswered = true
      try {
        holding = await lease.acquire(code)
      } catch {
        // No lease without Redis: read Postgres at once (nobody can fill the cache anyway).
        leaseAnswered = false
      }
      if (leaseAnswered && !holding) {
        const filled = await this.#waitForFill(code)
        if (filled) {
          this.#o.metrics.fillsJoined.inc()
          return filled
        }
      }
    }
    try {
      const resolution = await this.#readPostgres(code)
      await this.#store(code, resolution)
      return resolution
    } finally {
      if (holding && lease) await lease.release(code).catch(() => {})
    }
  }

  /** Polls the cache while another instance fills `code`; undefined if it did not in time. */
  async #waitForFill(code: string): Promise<Resolution | undefined> {
    const waitMs = this.#o.fillWaitMs ?? 200
    const pollMs = this.#o.fillPollMs ?? 10
    const deadline = this.#now() + waitMs
    while (this.#now() < deadline) {
      await sleep(pollMs)
      try {
        const entry = await this.#o.cache.get(code)
        if (entry && entry.staleAtMs > this.#now()) {
          return entry.kind === 'link'
            ? { kind: 'link', url: entry.url, expiresAtMs: entry.expiresAtMs }
            : { kind: 'missing' }
        }
      } catch {
        return undefined
      }
    }
    return undefined
  }

  async #readPostgres(code: string): Promise<Resolution> {
    const { metrics } = this.#o
    try {
      const target = await this.#bulkhead.run(
        () => {
          metrics.dbLookups.inc()
          return this.#o.repo.findTarget(code)
        },
        { signal: AbortSignal.timeout(this.#o.coldPathWaitMs) },
      )
      return target
        ? { kind: 'link', url: target.url, expiresAtMs: target.expiresAt ? target.expiresAt.getTime() : null }
        : { kind: 'missing' }
    } catch (err) {
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
