/**
 * An in-process token bucket: the degraded answer of a rule whose failure policy is `local`. With
 * N instances each holding `1/N` of the rule, admission while Redis is gone stays at most the
 * limit in total (pm19), instead of unbounded (fail-open) or zero (fail-closed).
 *
 * Pure: time comes from an injected `now()`, so tests move it by hand.
 */
import type { Decision, LimitRule } from './types.ts'

export interface LocalBucketOptions {
  /** Tokens added per `windowMs` (may be fractional: a share of a small limit). */
  limit: number
  windowMs: number
  /** The most tokens held, i.e. the largest burst. Default: `limit`. */
  capacity?: number
  /** Milliseconds on a monotonic scale. Default `performance.now()`. */
  now?: () => number
}

export class LocalBucket {
  readonly limit: number
  readonly capacity: number
  readonly windowMs: number
  readonly #refillPerMs: number
  readonly #now: () => number
  #tokens: number
  #updatedAtMs: number

  constructor(options: LocalBucketOptions) {
    const { limit, windowMs, capacity = limit, now = () => performance.now() } = options
    if (!(limit > 0) || !(windowMs > 0) || !(capacity > 0)) {
      throw new RangeError('LocalBucket: limit, windowMs and capacity must be > 0')
    }
    this.limit = limit
    this.capacity = capacity
    this.windowMs = windowMs
    this.#refillPerMs = limit / windowMs
    this.#now = now
    this.#tokens = capacity
    this.#updatedAtMs = now()
  }

  /** Takes `cost` tokens if there are that many; the answer in the shape Redis's would have. */
  take(cost = 1): Decision {
    this.#refill()
    const allowed = this.#tokens >= cost
    if (allowed) this.#tokens -= cost
    const missing = this.capacity - this.#tokens
    return {
      allowed,
      limit: Math.floor(this.capacity),
      remaining: Math.max(0, Math.floor(this.#tokens)),
      resetMs: Math.ceil(missing / this.#refillPerMs),
      // A cost above the capacity can never pass; a window is the honest "not soon".
      retryAfterMs: allowed
        ? 0
        : cost > this.capacity
          ? this.windowMs
          : Math.ceil((cost - this.#tokens) / this.#refillPerMs),
    }
  }

  /** Tokens available now (fractional). */
  get tokens(): number {
    this.#refill()
    return this.#tokens
  }

  #refill(): void {
    const nowMs = this.#now()
    const elapsedMs = Math.max(0, nowMs - this.#updatedAtMs)
    this.#tokens = Math.min(this.capacity, this.#tokens + elapsedMs * this.#refillPerMs)
    this.#updatedAtMs = nowMs
  }
}

export interface LocalBucketsOptions {
  /** Buckets kept at most; the least recently used goes first (default 10 000). */
  maxKeys?: number
  now?: () => number
}

/**
 * One {@link LocalBucket} per key and rule, created on first use with `share` of the rule, and
 * bounded in number so a key flood during an outage cannot grow memory without limit.
 */
export class LocalBuckets {
  readonly #maxKeys: number
  readonly #now: (() => number) | undefined
  readonly #buckets = new Map<string, LocalBucket>()

  constructor(options: LocalBucketsOptions = {}) {
    this.#maxKeys = options.maxKeys ?? 10_000
    this.#now = options.now
  }

  take(key: string, rule: LimitRule, share: number, cost = 1): Decision {
    // The rule's numbers are part of the id: a rule changed at run time gets a fresh bucket.
    const id = `${rule.algorithm}:${rule.limit}:${rule.windowMs}:${rule.burst ?? ''}:${share}:${key}`
    let bucket = this.#buckets.get(id)
    if (bucket) {
      this.#buckets.delete(id)
    } else {
      bucket = new LocalBucket({
        limit: rule.limit * share,
        windowMs: rule.windowMs,
        capacity: (rule.burst ?? rule.limit) * share,
        ...(this.#now ? { now: this.#now } : {}),
      })
      if (this.#buckets.size >= this.#maxKeys) {
        const oldest = this.#buckets.keys().next().value
        if (oldest !== undefined) this.#buckets.delete(oldest)
      }
    }
    this.#buckets.set(id, bucket)
    return bucket.take(cost)
  }

  get size(): number {
    return this.#buckets.size
  }
}
