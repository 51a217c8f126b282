/**
 * The router's series, on the kit registry its /metrics serves:
 * - `notifications_routed_total{channel, outcome, reason}`: deliveries the router created, by
 *   outcome (queued, held, suppressed, expired) and reason (`none` when queued); a redelivered
 *   event's rows already exist and are not counted again;
 * - `notifications_router_ratelimit_errors_total`: limiter decisions Redis could not make (the
 *   notification was allowed);
 * - `notifications_router_invalid_messages_total`: messages that are no notification event
 *   (skipped, committed);
 * - `notifications_router_route_errors_total`: failed attempts to route a chunk of events
 *   (retried with backoff; nothing is skipped);
 * - `notifications_router_batch_seconds`: time to route one chunk (decide, insert, enqueue);
 * - `notifications_router_backpressure_waits_total`: times the router paused because its channel
 *   queues held more than ROUTER_QUEUE_HIGH_WATER jobs (backpressure.ts).
 */
import type { Metrics } from '@faultline/kit/metrics'
import type { Counter, Histogram } from 'prom-client'

export interface RouterMetrics {
  routed: Counter<'channel' | 'outcome' | 'reason'>
  rateLimitErrors: Counter
  invalid: Counter
  routeErrors: Counter
  batchSeconds: Histogram
  backpressureWaits: Counter
}

export function createRouterMetrics(metrics: Metrics): RouterMetrics {
  return {
    routed: metrics.counter({
      name: 'notifications_routed_total',
      help: 'deliveries created by the router, by channel, outcome (queued, held, suppressed, expired) and reason',
      labelNames: ['channel', 'outcome', 'reason'],
    }),
    rateLimitErrors: metrics.counter({
      name: 'notifications_router_ratelimit_errors_total',
      help: 'rate-limit decisions Redis could not make (the notification was allowed)',
    }),
    invalid: metrics.counter({
      name: 'notifications_router_invalid_messages_total',
      help: 'messages on the notifications topic that are no notification event (skipped)',
    }),
    routeErrors: metrics.counter({
      name: 'notifications_router_route_errors_total',
      help: 'failed attempts to route a chunk of events (retried until they succeed)',
    }),
    batchSeconds: metrics.histogram({
      name: 'notifications_router_batch_seconds',
      help: 'seconds to route one chunk of events (decide, insert the deliveries, enqueue)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    }),
    backpressureWaits: metrics.counter({
      name: 'notifications_router_backpressure_waits_total',
      help: 'pauses of the router while its channel queues held more than ROUTER_QUEUE_HIGH_WATER jobs',
    }),
  }
}
