/**
 * The fan-out worker's series, on the kit registry its /metrics serves. pm18 reads
 * `feed_post_delivered_seconds{class}` (post created → its fan-out done) to compare regular
 * authors' delivery with and without hybrid fan-out; pm15 reads the delivery counters.
 */
import type { Metrics } from '@faultline/kit/metrics'
import type { Counter, Histogram } from 'prom-client'

export type AuthorClass = 'celebrity' | 'regular'

export interface FanoutMetrics {
  /** Timeline inserts by result: `added`, `already` (a redelivery), `inactive` (no timeline: skipped). */
  deliveries: Counter<'result'>
  /** Events applied, by type (`created`, `deleted`, `skipped_deleted`) and author class. */
  events: Counter<'type' | 'class'>
  /** From the post's creation (its id's millisecond) to the end of its fan-out, by author class. */
  delivered: Histogram<'class'>
  /** Time to apply one Kafka batch (all its events, commits included). */
  batchSeconds: Histogram
  /** Messages that are no PostEvent (skipped, committed). */
  invalid: Counter
  /** Failed applications of an event (retried with backoff; nothing is skipped). */
  applyErrors: Counter
}

/** 5 ms to 60 s: an idle push is milliseconds, a naive celebrity backlog is tens of seconds. */
export const deliveredBucketsSeconds = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60,
]

export function createFanoutMetrics(metrics: Metrics): FanoutMetrics {
  return {
    deliveries: metrics.counter({
      name: 'feed_fanout_deliveries_total',
      help: 'timeline inserts by the fan-out, by result (added, already, inactive, unfollowed)',
      labelNames: ['result'],
    }),
    events: metrics.counter({
      name: 'feed_fanout_events_total',
      help: 'post events applied by the fan-out, by type and author class',
      labelNames: ['type', 'class'],
    }),
    delivered: metrics.histogram({
      name: 'feed_post_delivered_seconds',
      help: "seconds from a post's creation to the end of its fan-out, by author class",
      labelNames: ['class'],
      buckets: deliveredBucketsSeconds,
    }),
    batchSeconds: metrics.histogram({
      name: 'feed_fanout_batch_seconds',
      help: 'seconds to apply one Kafka batch of post events',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    }),
    invalid: metrics.counter({
      name: 'feed_fanout_invalid_messages_total',
      help: 'messages on the posts topic that are no post event (skipped)',
    }),
    applyErrors: metrics.counter({
      name: 'feed_fanout_apply_errors_total',
      help: 'failed applications of a post event (retried until they succeed)',
    }),
  }
}
