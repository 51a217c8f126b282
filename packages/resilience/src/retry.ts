import { type Clock, type Random, type Sleep, sleeper, systemClock } from './clock.ts'
import type { Deadline } from './deadline.ts'
import { BulkheadFullError, CircuitOpenError, DeadlineExceededError } from './errors.ts'
import type { RetryBudget } from './retry-budget.ts'
import { withTimeout } from './timeout.ts'

/**
 * The one backoff of Faultline: every retry loop, in the packages and the services, takes its
 * sleep from `backoffDelayMs` instead of writing the formula again.
 *
 * - `full-jitter` (default): sleep `random() * min(capMs, baseMs * 2^n)` before retry n (0-based),
 *   so clients that failed together do not come back together.
 * - `equal-jitter`: half of that ceiling fixed, the other half random. For a loop that retries one
 *   dependency until it is back (a click publisher, a consumer applying a batch): the fixed half
 *   keeps it from spinning at near-zero sleeps while the dependency is down, the random half
 *   still spreads instances apart.
 * - `exponential`: the ceiling without jitter; the retries of many clients stay synchronised.
 * - `none`: retry at once, the naive policy of pm06 that turns a slowdown into an overload.
 */
export type Backoff = 'none' | 'exponential' | 'full-jitter' | 'equal-jitter'

/** Why a failed attempt was the last one. */
export type RetryStop = 'not-retryable' | 'max-attempts' | 'aborted' | 'deadline' | 'budget'

export interface AttemptEvent {
  /** 1-based; an attempts-per-request metric is the number of events per call. */
  attempt: number
  outcome: 'success' | 'failure'
  error?: unknown
  /** On a failure that will be retried: the sleep before the next attempt. */
  delayMs?: number
  /** On a failure that will not be retried: why. */
  stop?: RetryStop
}

export interface RetryPolicy {
  /** Attempts in total, the first included (default 3); 1 means no retries. */
  maxAttempts?: number
  /** Default `full-jitter`; `none` is the naive switch position. */
  backoff?: Backoff
  /** Base of the exponential (default 100 ms). */
  baseMs?: number
  /** Longest sleep between attempts (default 10 000 ms). */
  capMs?: number
  /**
   * Which errors are worth another attempt. The default retries everything except the fast
   * rejections of this package (open circuit, full bulkhead, exceeded deadline), which say that
   * another attempt now is useless or unwanted.
   */
  retryable?: (error: unknown) => boolean
  /** Timeout of each attempt (default none); its signal reaches `fn`. */
  attemptTimeoutMs?: number
  /** Stop when it expires, and never sleep past it: a retry nobody waits for is pure load. */
  deadline?: Deadline
  signal?: AbortSignal
  /** Shared across calls; `undefined` (the naive position) means retries are never refused. */
  budget?: RetryBudget
  onAttempt?: (event: AttemptEvent) => void
  clock?: Clock
  random?: Random
  /** Defaults to a sleep on `clock`; it must reject when the signal aborts. */
  sleep?: Sleep
}

export interface RetryContext {
  /** 1-based attempt number. */
  attempt: number
  /** Aborted on the attempt's timeout, the deadline or the caller's signal. */
  signal: AbortSignal
}

const DEFAULT_MAX_ATTEMPTS = 3
const DEFAULT_BASE_MS = 100
const DEFAULT_CAP_MS = 10_000

export function isRetryableByDefault(error: unknown): boolean {
  return !(
    error instanceof CircuitOpenError ||
    error instanceof BulkheadFullError ||
    error instanceof DeadlineExceededError
  )
}

/** The sleep before retry `retryIndex` (0 for the first retry) under `policy`. */
export function backoffDelayMs(
  retryIndex: number,
  policy: RetryPolicy = {},
  random: Random = Math.random,
): number {
  const { backoff = 'full-jitter', baseMs = DEFAULT_BASE_MS, capMs = DEFAULT_CAP_MS } = policy
  if (backoff === 'none') return 0
  // 2 ** retryIndex overflows to Infinity past ~1 000 retries; min() then gives capMs, as it should.
  const ceilingMs = Math.min(capMs, baseMs * 2 ** retryIndex)
  if (backoff === 'exponential') return ceilingMs
  if (backoff === 'equal-jitter') return ceilingMs / 2 + (random() * ceilingMs) / 2
  return random() * ceilingMs
}

/**
 * Calls `fn` until it succeeds or `policy` says stop, then returns its value or rethrows its last
 * error (or the abort reason if the wait between attempts was cancelled).
 */
export async function retry<T>(
  fn: (context: RetryContext) => Promise<T> | T,
  policy: RetryPolicy = {},
): Promise<T> {
  const {
    maxAttempts = DEFAULT_MAX_ATTEMPTS,
    backoff = 'full-jitter',
    retryable = isRetryableByDefault,
    attemptTimeoutMs = Number.POSITIVE_INFINITY,
    deadline,
    budget,
    onAttempt,
    clock = deadline?.clock ?? systemClock,
    random = Math.random,
  } = policy
  const sleep = policy.sleep ?? sleeper(clock)
  const signals = [policy.signal, deadline?.signal].filter((s) => s !== undefined)
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0]

  budget?.deposit()
  for (let attempt = 1; ; attempt++) {
    let error: unknown
    try {
      const value = await withTimeout((s) => fn({ attempt, signal: s }), attemptTimeoutMs, { signal, clock })
      onAttempt?.({ attempt, outcome: 'success' })
      return value
    } catch (err) {
      error = err
    }

    const delayMs = backoffDelayMs(attempt - 1, { ...policy, backoff }, random)
    let stop: RetryStop | undefined
    if (signal?.aborted) stop = deadline?.isExpired() ? 'deadline' : 'aborted'
    else if (!retryable(error)) stop = 'not-retryable'
    else if (attempt >= maxAttempts) stop = 'max-attempts'
    else if (deadline && delayMs >= deadline.remainingMs()) stop = 'deadline'
    else if (budget && !budget.tryWithdraw()) stop = 'budget'

    if (stop) {
      onAttempt?.({ attempt, outcome: 'failure', error, stop })
      throw error
    }
    onAttempt?.({ attempt, outcome: 'failure', error, delayMs })
    if (delayMs > 0) await sleep(delayMs, signal)
  }
}
