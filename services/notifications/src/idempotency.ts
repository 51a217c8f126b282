/**
 * The Idempotency-Key of POST /api/notifications, with Novu's semantics: a repeat after the first
 * request finished gets the stored response and `Idempotent-Replay: true`; a repeat while it runs
 * gets 409 + Retry-After; the same key with other parameters gets 422. Keys are kept
 * IDEMPOTENCY_TTL_S (Knock: 24 h).
 *
 * Two layers, for two jobs. The truth is Postgres: the key is a unique column of the notification
 * it created, written in the same transaction, so no race and no Redis outage can create a twin.
 * The Redis marker (`SET NX`) only tells a concurrent repeat "in flight" (409) instead of making
 * it wait on the unique index; when Redis is down the request goes on without it.
 */
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { invalidField } from './errors.ts'
import type { NotificationKeys } from './keys.ts'
import type { ApiMetrics } from './metrics.ts'

/** 1–255 visible ASCII characters (no spaces, no control characters). */
const keyPattern = /^[\x21-\x7e]{1,255}$/

/** The header's value, undefined when absent; a 400 naming the header when malformed. */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined
  if (typeof header !== 'string' || !keyPattern.test(header)) {
    throw invalidField('headers', 'idempotency-key', 'must be 1 to 255 visible ASCII characters')
  }
  return header
}

/** JSON with object keys sorted at every level, so equal parameters hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
    return `{${entries.join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/** SHA-256 (hex) of the canonical JSON of the request's parameters, defaults applied. */
export function requestHash(params: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(params)).digest('hex')
}

/** What taking the marker found: ours now, another request's (with its hash), or Redis failed. */
export type MarkerResult = { kind: 'taken' } | { kind: 'held'; hash: string | null } | { kind: 'unavailable' }

export interface MarkerLog {
  warn(obj: object, msg: string): void
}

/** The in-flight marker on the cache Redis: `SET NX PX IDEMPOTENCY_LOCK_MS`, value = request hash. */
export class InFlightMarker {
  readonly #redis: Redis
  readonly #keys: NotificationKeys
  readonly #lockMs: number
  readonly #metrics: ApiMetrics

  constructor(o: { redis: Redis; keys: NotificationKeys; lockMs: number; metrics: ApiMetrics }) {
    this.#redis = o.redis
    this.#keys = o.keys
    this.#lockMs = o.lockMs
    this.#metrics = o.metrics
  }

  /**
   * Sets the marker unless one exists; `SET … NX GET` (Redis ≥ 7) returns the holder's hash in
   * the same round trip, so "held by whom" cannot race with the holder finishing.
   */
  async take(key: string, hash: string, log: MarkerLog): Promise<MarkerResult> {
    try {
      const previous = (await this.#redis.call(
        'SET',
        this.#keys.idempotencyInFlight(key),
        hash,
        'PX',
        String(this.#lockMs),
        'NX',
        'GET',
      )) as string | null
      return previous === null ? { kind: 'taken' } : { kind: 'held', hash: previous }
    } catch (err) {
      this.#metrics.markerFailures.inc({ op: 'take' })
      log.warn({ err }, 'idempotency marker unavailable; relying on the unique key')
      return { kind: 'unavailable' }
    }
  }

  /** Removes the marker once the notification committed (or failed); a failure only delays repeats. */
  async release(key: string, log: MarkerLog): Promise<void> {
    try {
      await this.#redis.del(this.#keys.idempotencyInFlight(key))
    } catch (err) {
      this.#metrics.markerFailures.inc({ op: 'release' })
      log.warn({ err }, 'idempotency marker release failed; it expires by itself')
    }
  }
}
