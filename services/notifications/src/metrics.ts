/**
 * The API process's own series (`notifications_*`), on the kit's per-app registry, so each app a
 * test builds starts from zero. The router and the channel workers register theirs in their own
 * modules (src/router/metrics.ts, src/sender/metrics.ts).
 */
import type { Metrics } from '@faultline/kit/metrics'
import type { Counter } from 'prom-client'

/** What a request carrying an Idempotency-Key turned into. */
export type IdempotencyOutcome = 'new' | 'replay' | 'in_flight' | 'mismatch'

export interface ApiMetrics {
  /** Notifications accepted (written with their outbox row), by priority. */
  accepted: Counter<'priority'>
  /** Requests with an Idempotency-Key, by outcome. */
  idempotency: Counter<'outcome'>
  /**
   * The Redis in-flight marker could not be set or read (Redis down or slow): the request went on
   * without it, and the unique index on the key still prevents a second notification.
   */
  markerFailures: Counter<'op'>
}

export function createApiMetrics(
  metrics: Metrics,
  pool?: Parameters<Metrics['observePgPool']>[0],
): ApiMetrics {
  if (pool) metrics.observePgPool(pool, 'primary')
  return {
    accepted: metrics.counter({
      name: 'notifications_accepted_total',
      help: 'Notifications accepted (row and outbox row committed), by priority',
      labelNames: ['priority'],
    }),
    idempotency: metrics.counter({
      name: 'notifications_idempotency_total',
      help: 'Requests with an Idempotency-Key by outcome (new, replay, in_flight, mismatch)',
      labelNames: ['outcome'],
    }),
    markerFailures: metrics.counter({
      name: 'notifications_idempotency_marker_failures_total',
      help: 'Redis failures on the in-flight marker (the request went on; the unique index still guards)',
      labelNames: ['op'],
    }),
  }
}
