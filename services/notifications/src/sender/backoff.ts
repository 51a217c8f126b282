/**
 * The channel workers' retry delay (BullMQ `settings.backoffStrategy`, job option `backoff:
 * {type: 'jitter'}`): full jitter from @faultline/resilience — a random delay between 0 and
 * min(JOB_BACKOFF_MAX_MS, JOB_BACKOFF_MS · 2^retry) — so deliveries that failed together (a
 * provider outage) come back spread out instead of in waves.
 *
 * A provider that says "not now" — a 429, or its circuit breaker open (every provider of the
 * channel, after failover) — has not failed the delivery: the job is deferred (`deferralMs`,
 * `DeferredSendError`) and waits with its attempts untouched, as photos' jobs wait out an S3
 * outage. What bounds the waiting is the notification's TTL (checked on every run, and no wait
 * goes past it): a provider throttling for an hour costs waiting, not dead letters, and nothing
 * is sent past its TTL. With the ttlCheck switch off nothing would bound it, so a "not now" then
 * spends an attempt like any failure.
 */
import { backoffDelayMs } from '@faultline/resilience'
import type { ProviderResult } from './provider-client.ts'

/** Thrown by a run that failed transiently: BullMQ retries it after the backoff, an attempt spent. */
export class TransientSendError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TransientSendError'
  }
}

export interface JitterBackoffOptions {
  baseMs: number
  capMs: number
  random?: () => number
}

/**
 * BullMQ calls it with the number of the attempt that just failed (1-based); the returned delay
 * is in ms (0 = retry now).
 */
export function jitterBackoff(o: JitterBackoffOptions) {
  return (attemptsMade: number): number =>
    Math.ceil(
      backoffDelayMs(
        Math.max(0, attemptsMade - 1),
        { backoff: 'full-jitter', baseMs: o.baseMs, capMs: o.capMs },
        o.random,
      ),
    )
}

/** Thrown by a run the provider deferred: the worker moves the job back to delayed for `delayMs`, its attempts untouched. */
export class DeferredSendError extends Error {
  readonly delayMs: number

  constructor(message: string, delayMs: number) {
    super(message)
    this.name = 'DeferredSendError'
    this.delayMs = delayMs
  }
}

export interface DeferralOptions {
  /** How long an open breaker stays open (BREAKER_OPEN_MS): the wait when a provider gives no Retry-After. */
  breakerOpenMs: number
  /**
   * The shortest wait (JOB_BACKOFF_MS): a `Retry-After: 0`, or a date in the past, would otherwise
   * bring the job back at once, over and over — a hot loop a hostile webhook receiver could cause.
   */
  minMs: number
  random?: () => number
}

/**
 * How long to defer a delivery whose provider said "not now", or undefined when the result is a
 * failure (an attempt spent) or a success. The wait is the provider's Retry-After (else the
 * breaker's open time), at least `minMs`, stretched by up to as much again at random, so the
 * deliveries a 429 or an open breaker turned away come back spread out, not as one herd at the
 * same instant. `untilExpiryMs` caps it: a delivery never waits past its notification's TTL (it
 * comes back then, to be expired).
 */
export function deferralMs(
  result: ProviderResult,
  o: DeferralOptions,
  untilExpiryMs = Number.POSITIVE_INFINITY,
): number | undefined {
  const base =
    result.kind === 'rate_limited'
      ? (result.retryAfterMs ?? o.breakerOpenMs)
      : result.kind === 'error' && result.breakerOpen
        ? o.breakerOpenMs
        : undefined
  if (base === undefined) return undefined
  const wait = Math.max(o.minMs, base) * (1 + (o.random ?? Math.random)())
  return Math.ceil(Math.max(1, Math.min(wait, untilExpiryMs)))
}
