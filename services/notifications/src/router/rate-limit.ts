/**
 * The per-recipient, per-category limit: RATE_LIMIT_PER_RECIPIENT notifications per
 * RATE_LIMIT_WINDOW_S, an exact sliding log (@faultline/ratelimit) on the cache Redis, so "at most
 * N in any window" holds across every router instance. One decision per notification (not per
 * channel). When Redis fails the notification is allowed and counted: a limiter outage must not
 * silence critical-path mail, and the limit is a courtesy to the recipient, not a safety bound.
 */
import { type LimitRule, RedisLimiter, validateRule } from '@faultline/ratelimit'
import type { Redis } from 'ioredis'
import type { NotificationKeys } from '../keys.ts'

export interface RateLimitLog {
  warn(obj: object, msg: string): void
}

export interface RecipientRateLimitOptions {
  redis: Redis
  keys: NotificationKeys
  limit: number
  windowMs: number
  /** Called for each decision Redis could not make (the notification was allowed). */
  onRedisError(err: unknown): void
  log: RateLimitLog
}

export class RecipientRateLimit {
  readonly #limiter: RedisLimiter
  readonly #rule: LimitRule
  readonly #o: RecipientRateLimitOptions
  #lastLoggedMs = Number.NEGATIVE_INFINITY

  constructor(o: RecipientRateLimitOptions) {
    this.#rule = { algorithm: 'sliding-log', limit: o.limit, windowMs: o.windowMs }
    // A bad limit (above the sliding log's 10 000) fails at start, not on every notification.
    validateRule(this.#rule)
    this.#limiter = new RedisLimiter({ redis: o.redis, prefix: o.keys.rateLimitPrefix })
    this.#o = o
  }

  /** Takes one unit for the recipient and category; false when the limit is reached. */
  async allow(recipientId: string, category: string): Promise<boolean> {
    try {
      const d = await this.#limiter.decide(this.#o.keys.rateLimitKey(recipientId, category), this.#rule)
      return d.allowed
    } catch (err) {
      this.#o.onRedisError(err)
      const nowMs = Date.now()
      // One line per 5 s is enough to say the limiter is down.
      if (nowMs - this.#lastLoggedMs >= 5000) {
        this.#lastLoggedMs = nowMs
        this.#o.log.warn({ err }, 'rate limiter unavailable; allowing the notification')
      }
      return true
    }
  }
}
