import type { Redis } from 'ioredis'
import type { Keys } from './keys.ts'
import type { Mitigations } from './mitigations.ts'
import type { LinkTarget } from './repositories/links.ts'

/**
 * A cache entry: a link, or the negative marker for a code that does not exist. `staleAtMs` is
 * the soft expiry: past it the entry is stale (served only under staleWhileRevalidate, while one
 * background fill refreshes it); Redis deletes it `staleWindowMs` later.
 */
export type CacheEntry =
  | { kind: 'link'; url: string; expiresAtMs: number | null; staleAtMs: number }
  | { kind: 'missing'; staleAtMs: number }

export interface LinkCacheOptions {
  redis: Redis
  keys: Keys
  mitigations: Readonly<Pick<Mitigations, 'ttlJitter'>>
  /** Soft TTL of a link entry. */
  ttlMs: number
  /** ±fraction applied to every TTL when ttlJitter is on (0.1 → 90 %…110 %). */
  jitter: number
  /** TTL of the negative marker (kept short: a code created later must not 404 for long). */
  negativeTtlMs: number
  /** How long past its soft TTL an entry stays in Redis, available to staleWhileRevalidate. */
  staleWindowMs: number
  now?: () => number
  random?: () => number
}

/**
 * Redis side of cache-aside for redirects. Values are compact JSON:
 * `{"u":url,"e":expiresAtMs|null,"s":staleAtMs}` or `{"n":1,"s":staleAtMs}`.
 * Errors propagate: the resolver decides that a broken cache means "go to Postgres".
 */
export class LinkCache {
  readonly #o: LinkCacheOptions
  readonly #now: () => number
  readonly #random: () => number

  constructor(options: LinkCacheOptions) {
    this.#o = options
    this.#now = options.now ?? Date.now
    this.#random = options.random ?? Math.random
  }

  async get(code: string): Promise<CacheEntry | undefined> {
    const raw = await this.#o.redis.get(this.#o.keys.link(code))
    return raw === null ? undefined : decodeEntry(raw)
  }

  async setLink(code: string, target: LinkTarget): Promise<void> {
    const ttlMs = this.ttlMs(this.#o.ttlMs)
    const entry: CacheEntry = {
      kind: 'link',
      url: target.url,
      expiresAtMs: target.expiresAt ? target.expiresAt.getTime() : null,
      staleAtMs: this.#now() + ttlMs,
    }
    await this.#o.redis.set(this.#o.keys.link(code), encodeEntry(entry), 'PX', ttlMs + this.#o.staleWindowMs)
  }

  async setMissing(code: string): Promise<void> {
    const ttlMs = this.ttlMs(this.#o.negativeTtlMs)
    const entry: CacheEntry = { kind: 'missing', staleAtMs: this.#now() + ttlMs }
    await this.#o.redis.set(this.#o.keys.link(code), encodeEntry(entry), 'PX', ttlMs)
  }

  /** Drops whatever is cached for `code` (a link just created over a negative marker). */
  async delete(code: string): Promise<void> {
    await this.#o.redis.del(this.#o.keys.link(code))
  }

  /** `base` with ±jitter when ttlJitter is on: keys filled together then expire apart. */
  ttlMs(base: number): number {
    if (!this.#o.mitigations.ttlJitter || this.#o.jitter <= 0) return base
    const factor = 1 - this.#o.jitter + 2 * this.#o.jitter * this.#random()
    return Math.max(1, Math.round(base * factor))
  }
}

export function encodeEntry(entry: CacheEntry): string {
  return entry.kind === 'link'
    ? JSON.stringify({ u: entry.url, e: entry.expiresAtMs, s: entry.staleAtMs })
    : JSON.stringify({ n: 1, s: entry.staleAtMs })
}

/** Undefined for anything unreadable (treated as a miss and overwritten by the next fill). */
export function decodeEntry(raw: string): CacheEntry | undefined {
  try {
    const v = JSON.parse(raw) as { u?: unknown; e?: unknown; s?: unknown; n?: unknown }
    const staleAtMs = typeof v.s === 'number' ? v.s : Number.POSITIVE_INFINITY
    if (v.n === 1) return { kind: 'missing', staleAtMs }
    if (typeof v.u === 'string') {
      return { kind: 'link', url: v.u, expiresAtMs: typeof v.e === 'number' ? v.e : null, staleAtMs }
    }
  } catch {
    // Fall through.
  }
  return undefined
}
