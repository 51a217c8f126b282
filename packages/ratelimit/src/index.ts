export { accuracyRatio, expandByCost, maxExcessOverBucketBound, maxInAnyWindow } from './accuracy.ts'
export {
  capacityOf,
  maxSlidingLogLimit,
  maxWindowMs,
  RateLimitInputError,
  type RateLimitInputErrorCode,
  validateCost,
  validateRule,
} from './algorithms/validation.ts'
export {
  closeLimiterRedis,
  createLimiterCluster,
  createLimiterRedis,
  type LimiterClusterOptions,
  type LimiterRedisOptions,
  reconnectDelayMs,
  waitForRedisReady,
} from './client.ts'
export { defaultPrefix, escapeKey, LimiterKeys, maxKeyLength } from './keys.ts'
export {
  LocalBucket,
  type LocalBucketOptions,
  LocalBuckets,
  type LocalBucketsOptions,
} from './local-bucket.ts'
export {
  decisionDurationBucketsSeconds,
  degradedReasons,
  type LimiterMetrics,
  limiterMetrics,
} from './metrics.ts'
export { type DecideContext, GuardedLimiter, type GuardedLimiterOptions } from './policy/guarded-limiter.ts'
export {
  type BreakerPolicy,
  type FailurePolicy,
  failurePolicyProblems,
  hardenedFailurePolicy,
  naiveFailurePolicy,
  type RetryPolicy,
} from './policy/types.ts'
export { RedisLimiter, type RedisLimiterOptions, type TimedDecision } from './redis-limiter.ts'
export * from './types.ts'
