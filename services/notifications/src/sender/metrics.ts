/**
 * The channel workers' metrics (prefix `notifications_`), on the process' registry:
 * - deliveries_total{channel, outcome}: sent | failed (a transient failure, retried) |
 *   deferred (a 429 or an open breaker: waits, no attempt spent) | dead_lettered | expired | suppressed | skipped (already terminal: a repeated job);
 * - provider_requests_total{provider, result}: ok | timeout | error | rate_limited | refused;
 * - sent_seconds{channel}: accepted (the notification's createdAt) → the provider's 2xx;
 * - dead_letters: dead letters waiting in ntf-dead, read at scrape time;
 * - dead_letter_alert: 1 while any dead letter waits unreviewed, else 0 — the alarm's state
 *   (dead-letter-alarm.ts), checked afresh at scrape time and every half of DEAD_LETTER_ALERT_S;
 * - breaker_open{provider}: 1 while the provider's circuit breaker is open.
 */
import type { Metrics } from '@faultline/kit/metrics'
import type { CircuitBreaker } from '@faultline/resilience'
import type { Channel } from '../types.ts'
import type { DeadLetterAlarm } from './dead-letter-alarm.ts'
import type { ProviderResultKind } from './provider-client.ts'

export type DeliveryOutcome =
  | 'sent'
  | 'failed'
  | 'deferred'
  | 'dead_lettered'
  | 'expired'
  | 'suppressed'
  | 'skipped'

export interface SenderMetrics {
  delivery(channel: Channel, outcome: DeliveryOutcome): void
  providerRequest(provider: string, result: ProviderResultKind): void
  sent(channel: Channel, secondsSinceAccepted: number): void
}

export interface SenderMetricsSources {
  /** The dead-letter alarm: counts what waits in ntf-dead (keeping the last count on a failed read). */
  deadLetters: Pick<DeadLetterAlarm, 'check'>
  /** The provider client's breakers, read at scrape time (open → half-open is lazy). */
  breakers(): ReadonlyMap<string, CircuitBreaker>
}

export function createSenderMetrics(metrics: Metrics, sources: SenderMetricsSources): SenderMetrics {
  const deliveries = metrics.counter({
    name: 'notifications_deliveries_total',
    help: 'channel worker runs by channel and outcome (sent, failed, deferred, dead_lettered, expired, suppressed, skipped)',
    labelNames: ['channel', 'outcome'],
  })
  const requests = metrics.counter({
    name: 'notifications_provider_requests_total',
    help: 'requests to providers by provider and result (ok, timeout, error, rate_limited, refused)',
    labelNames: ['provider', 'result'],
  })
  const sentSeconds = metrics.histogram({
    name: 'notifications_sent_seconds',
    help: 'from the notification accepted to the provider accepting the delivery',
    labelNames: ['channel'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  })
  const readWaiting = () => sources.deadLetters.check()
  metrics.gauge({
    name: 'notifications_dead_letters',
    help: 'dead letters waiting for review in ntf-dead',
    async collect() {
      this.set(await readWaiting())
    },
  })
  metrics.gauge({
    name: 'notifications_dead_letter_alert',
    help: '1 while an unreviewed dead letter waits in ntf-dead',
    async collect() {
      this.set((await readWaiting()) > 0 ? 1 : 0)
    },
  })
  metrics.gauge({
    name: 'notifications_breaker_open',
    help: "1 while the provider's circuit breaker is open",
    labelNames: ['provider'],
    collect() {
      for (const [name, b] of sources.breakers()) this.set({ provider: name }, b.state === 'open' ? 1 : 0)
    },
  })
  return {
    delivery: (channel, outcome) => deliveries.inc({ channel, outcome }),
    providerRequest: (provider, result) => requests.inc({ provider, result }),
    sent: (channel, seconds) => sentSeconds.observe({ channel }, Math.max(0, seconds)),
  }
}
