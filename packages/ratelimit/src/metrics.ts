/**
 * The limiter's Prometheus series, registered into the registry the service passes in (never
 * prom-client's global one: a test builds many limiters in one process). Attempts per decision,
 * the pm06 figure, is `ratelimit_redis_attempts_total / ratelimit_decisions_total`.
 */
import { Counter, Histogram, type Metric, type Registry } from 'prom-client'
import type { DegradedReason } from './types.ts'

/**
 * Decision time spans sub-millisecond Redis round trips to a naive client's seconds of retries,
 * so the buckets start at 100 µs.
 */
export const decisionDurationBucketsSeconds = [
  0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
]

export interface LimiterMetrics {
  /** `ratelimit_decisions_total{outcome}`: allowed | denied, degraded answers included. */
  readonly decisions: Counter<'outcome'>
  /** `ratelimit_degraded_total{reason}`: answers the failure policy gave instead of Redis. */
  readonly degraded: Counter<'reason'>
  /** `ratelimit_redis_attempts_total`: every call made to Redis, retries included. */
  readonly redisAttempts: Counter<string>
  /** `ratelimit_retries_refused_total`: retries the retry budget refused. */
  readonly retriesRefused: Counter<string>
  /** `ratelimit_decision_seconds{degraded}`: what a caller waited for its answer. */
  readonly decisionSeconds: Histogram<'degraded'>
}

/** Registers the series in `registry`, or returns the ones already there (two limiters, one registry). */
export function limiterMetrics(registry: Registry): LimiterMetrics {
  function getOrCreate<M extends Metric<string>>(name: string, create: () => M): M {
    return (registry.getSingleMetric(name) as M | undefined) ?? create()
  }
  const registers = [registry]
  return {
    decisions: getOrCreate(
      'ratelimit_decisions_total',
      () =>
        new Counter({
          name: 'ratelimit_decisions_total',
          help: 'Rate-limit decisions by outcome (allowed, denied), degraded ones included',
          labelNames: ['outcome'],
          registers,
        }),
    ),
    degraded: getOrCreate(
      'ratelimit_degraded_total',
      () =>
        new Counter({
          name: 'ratelimit_degraded_total',
          help: 'Decisions answered by the failure policy instead of Redis, by reason (deadline, redis-error, breaker-open)',
          labelNames: ['reason'],
          registers,
        }),
    ),
    redisAttempts: getOrCreate(
      'ratelimit_redis_attempts_total',
      () =>
        new Counter({
          name: 'ratelimit_redis_attempts_total',
          help: 'Calls made to Redis for decisions, retries included',
          registers,
        }),
    ),
    retriesRefused: getOrCreate(
      'ratelimit_retries_refused_total',
      () =>
        new Counter({
          name: 'ratelimit_retries_refused_total',
          help: 'Retries of a failed Redis call refused by the retry budget',
          registers,
        }),
    ),
    decisionSeconds: getOrCreate(
      'ratelimit_decision_seconds',
      () =>
        new Histogram({
          name: 'ratelimit_decision_seconds',
          help: 'Time a caller waited for a rate-limit decision, by whether it was degraded',
          labelNames: ['degraded'],
          buckets: decisionDurationBucketsSeconds,
          registers,
        }),
    ),
  }
}

/** The reasons, so a dashboard or a test can list every series even before it is incremented. */
export const degradedReasons: readonly DegradedReason[] = ['deadline', 'redis-error', 'breaker-open']
