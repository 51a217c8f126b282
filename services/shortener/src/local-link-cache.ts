/**
 * The per-process tier in front of Redis: links this process resolved in the last
 * `LOCAL_CACHE_TTL_MS` (default 1 s), answered from memory without a Redis round trip.
 *
 * Why it is safe to keep a copy nobody invalidates: a link never changes once created (the API
 * has no update or delete), and its expiry travels with it, so the redirect route still answers
 * 410 at the exact moment. Only links are kept, never "unknown code": a code created on another
 * instance must resolve here at once (creating a link deletes its Redis negative marker, but
 * could not reach this memory). A copy lives at most the TTL and never past the Redis entry's
 * soft expiry, so a link taken down by hand in Postgres and Redis (there is no API for it) stops
 * being served within the TTL.
 *
 * What it buys: on a 2-core machine the Redis GET's socket write was the largest single cost of
 * a redirect (a third of the event loop's busy time in a CPU profile); a hot code now costs one
 * Redis read per TTL per process instead of one per visit. What it does not change: the failure
 * modes of the Redis tier. A flushed Redis (pm02) is invisible for one TTL, then every code is a
 * miss again; a hot key expiring in Redis (pm10) is noticed by each process at its next Redis
 * read, and while the refill is in flight every request misses both tiers, so the stampede and
 * its mitigations are the same (both experiments reproduce with this tier at its default).
 *
 * Bounded (`LOCAL_CACHE_MAX` entries): when full, the oldest entry goes (insertion order), which
 * with a 1 s TTL is also nearly the least recently used.
 */
export interface LocalLink {
  url: string
  expiresAtMs: number | null
}

interface Entry extends LocalLink {
  untilMs: number
}

export interface LocalLinkCacheOptions {
  /** How long a copy is served; 0 turns the tier off. */
  ttlMs: number
  maxEntries: number
  now?: () => number
}

export class LocalLinkCache {
  readonly #entries = new Map<string, Entry>()
  readonly #ttlMs: number
  readonly #maxEntries: number
  readonly #now: () => number

  constructor(options: LocalLinkCacheOptions) {
    if (!Number.isSafeInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new RangeError('maxEntries must be ≥ 1')
    }
    this.#ttlMs = Math.max(0, options.ttlMs)
    this.#maxEntries = options.maxEntries
    this.#now = options.now ?? Date.now
  }

  get enabled(): boolean {
    return this.#ttlMs > 0
  }

  get size(): number {
    return this.#entries.size
  }

  get(code: string): LocalLink | undefined {
    const entry = this.#entries.get(code)
    if (!entry) return undefined
    if (entry.untilMs <= this.#now()) {
      this.#entries.delete(code)
      return undefined
    }
    return entry
  }

  /** Keeps `link` for the TTL, or until `notAfterMs` (the Redis entry's soft expiry) if sooner. */
  set(code: string, link: LocalLink, notAfterMs = Number.POSITIVE_INFINITY): void {
    if (this.#ttlMs === 0) return
    const untilMs = Math.min(this.#now() + this.#ttlMs, notAfterMs)
    if (untilMs <= this.#now()) return
    // Re-inserted at the end, so insertion order stays the eviction order.
    this.#entries.delete(code)
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
    this.#entries.set(code, { url: link.url, expiresAtMs: link.expiresAtMs, untilMs })
  }
}
