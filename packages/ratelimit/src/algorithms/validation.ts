/**
 * Input checks for a decision, made before any Redis call so a bad rule or cost costs no round
 * trip and never reaches a script (where it would surface as a Lua error, i.e. a 500). Each
 * failure names the field, so the plugin and the decision service can answer 400 with it.
 */
import { type AlgorithmName, algorithmNames, type LimitRule } from '../types.ts'

export type RateLimitInputErrorCode =
  | 'RATELIMIT_ERR_BAD_RULE'
  | 'RATELIMIT_ERR_BAD_COST'
  | 'RATELIMIT_ERR_BAD_KEY'
  | 'RATELIMIT_ERR_BAD_PREFIX'

/** A rule, cost, key or prefix the limiter refuses; `field` names it (`rule.windowMs`, `cost` …). */
export class RateLimitInputError extends Error {
  readonly code: RateLimitInputErrorCode
  readonly field: string
  /** A caller's mistake: HTTP handlers answer 400 (Fastify reads `statusCode`). */
  readonly statusCode = 400

  constructor(code: RateLimitInputErrorCode, field: string, message: string) {
    super(`${field} ${message}`)
    this.name = 'RateLimitInputError'
    this.code = code
    this.field = field
  }
}

/**
 * The longest window: 366 days, so one year's quota fits while every script's arithmetic in
 * microseconds (now + 2 windows ≈ 1.8e15) stays exact in a double (2^53 ≈ 9e15).
 */
export const maxWindowMs = 366 * 24 * 3_600_000

/**
 * The sliding log keeps one ZSET member per admitted unit, so its limit is its memory: 10 000
 * members is about 1 MB per key at worst (skiplist encoding). Larger limits belong to the
 * sliding-window counter or GCRA, whose memory does not grow with the limit.
 */
export const maxSlidingLogLimit = 10_000

const isPositiveInteger = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 1

/** Throws a {@link RateLimitInputError} naming the first bad field of `rule`. */
export function validateRule(rule: LimitRule): void {
  if (typeof rule !== 'object' || rule === null) {
    throw new RateLimitInputError('RATELIMIT_ERR_BAD_RULE', 'rule', 'must be an object')
  }
  if (!algorithmNames.includes(rule.algorithm as AlgorithmName)) {
    throw new RateLimitInputError(
      'RATELIMIT_ERR_BAD_RULE',
      'rule.algorithm',
      `must be one of ${algorithmNames.join(', ')} (got ${JSON.stringify(rule.algorithm)})`,
    )
  }
  if (!isPositiveInteger(rule.limit)) {
    throw new RateLimitInputError('RATELIMIT_ERR_BAD_RULE', 'rule.limit', 'must be an integer ≥ 1')
  }
  if (rule.algorithm === 'sliding-log' && rule.limit > maxSlidingLogLimit) {
    throw new RateLimitInputError(
      'RATELIMIT_ERR_BAD_RULE',
      'rule.limit',
      `must be ≤ ${maxSlidingLogLimit} for sliding-log (one stored entry per unit); use sliding-window or gcra`,
    )
  }
  if (!isPositiveInteger(rule.windowMs) || rule.windowMs > maxWindowMs) {
    throw new RateLimitInputError(
      'RATELIMIT_ERR_BAD_RULE',
      'rule.windowMs',
      `must be an integer from 1 to ${maxWindowMs} (366 days)`,
    )
  }
  if (rule.burst !== undefined) {
    if (rule.algorithm !== 'token-bucket' && rule.algorithm !== 'gcra') {
      throw new RateLimitInputError(
        'RATELIMIT_ERR_BAD_RULE',
        'rule.burst',
        'applies to token-bucket and gcra only (a window algorithm admits `limit` per window)',
      )
    }
    if (!isPositiveInteger(rule.burst)) {
      throw new RateLimitInputError('RATELIMIT_ERR_BAD_RULE', 'rule.burst', 'must be an integer ≥ 1')
    }
  }
}

/** Throws unless `cost` is an integer ≥ 1. A cost above the capacity is valid: it is denied. */
export function validateCost(cost: number): void {
  if (!isPositiveInteger(cost)) {
    throw new RateLimitInputError('RATELIMIT_ERR_BAD_COST', 'cost', 'must be an integer ≥ 1')
  }
}

/**
 * The most units a rule can ever admit at once: `burst ?? limit` for the buckets, `limit` for the
 * windows. A cost above it can never pass, and is denied with `retryAfterMs` = the rule's window.
 */
export function capacityOf(rule: LimitRule): number {
  return rule.algorithm === 'token-bucket' || rule.algorithm === 'gcra'
    ? (rule.burst ?? rule.limit)
    : rule.limit
}
