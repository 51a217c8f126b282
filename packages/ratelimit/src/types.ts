/**
 * The library's shared vocabulary. Every algorithm answers a `Decision` for one key, one rule and
 * one cost; the failure policy wraps any `Limiter` and answers the same shape, plus why it had to
 * answer without Redis.
 */
export const algorithmNames = [
  'fixed-window',
  'sliding-log',
  'sliding-window',
  'token-bucket',
  'gcra',
] as const
export type AlgorithmName = (typeof algorithmNames)[number]

export interface LimitRule {
  algorithm: AlgorithmName
  /** Requests (cost units) allowed per window. For the token bucket and GCRA: the refill rate per window. */
  limit: number
  windowMs: number
  /** Token bucket / GCRA capacity (the most that may pass at once). Default: `limit`. */
  burst?: number
}

export interface Decision {
  allowed: boolean
  limit: number
  /** Cost units still available now (≥ 0). */
  remaining: number
  /** Milliseconds until the quota is fully available again. */
  resetMs: number
  /** On deny: milliseconds until this cost could pass; 0 when allowed. */
  retryAfterMs: number
}

/** Why a decision was made without Redis (the failure policy's answer), counted in a metric. */
export type DegradedReason = 'deadline' | 'redis-error' | 'breaker-open'

export interface GuardedDecision extends Decision {
  /** Set when the failure policy answered instead of Redis. */
  degraded?: DegradedReason
}

export interface Limiter {
  /** One atomic decision: `cost` units (default 1) against `rule` for `key`. */
  decide(key: string, rule: LimitRule, cost?: number): Promise<Decision>
}
