/**
 * The channel workers' retry delay (BullMQ `settings.backoffStrategy`, job option `backoff:
 * {type: 'jitter'}`): full jitter from @faultline/resilience — a random delay between 0 and
 * min(JOB_BACKOFF_MAX_MS, JOB_BACKOFF_MS · 2^retry) — so deliveries that failed together (a
 * provider outage) come back spread out instead of in waves; and never sooner than a 429's
 * Retry-After, which the provider told us.
 */
import { backoffDelayMs } from '@faultline/resilience'

/** Thrown by a run that failed transiently: BullMQ retries it after the backoff. */
export class TransientSendError extends Error {
  /** A 429's Retry-After: the next attempt waits at least this long. */
  readonly retryAfterMs: number | null

  constructor(message: string, retryAfterMs: number | null = null) {
    super(message)
    this.name = 'TransientSendError'
    this.retryAfterMs = retryAfterMs
  }
}

export interface JitterBackoffOptions {
  baseMs: number
  capMs: number
  random?: () => number
}

/**
 * BullMQ calls it with the number of the attempt that just failed (1-based) and its error; the
 * returned delay is in ms (0 = retry now).
 */
export function jitterBackoff(o: JitterBackoffOptions) {
  return (attemptsMade: number, _type?: string, err?: Error): number => {
    const delay = backoffDelayMs(
      Math.max(0, attemptsMade - 1),
      { backoff: 'full-jitter', baseMs: o.baseMs, capMs: o.capMs },
      o.random,
    )
    const floor = err instanceof TransientSendError ? (err.retryAfterMs ?? 0) : 0
    return Math.ceil(Math.max(delay, floor))
  }
}
