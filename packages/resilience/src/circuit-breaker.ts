import { type Clock, systemClock } from './clock.ts'
import { CircuitOpenError } from './errors.ts'

export type CircuitState = 'closed' | 'open' | 'half-open'

export type CircuitTransitionReason =
  | 'failure-rate'
  | 'consecutive-failures'
  | 'open-elapsed'
  | 'trial-failed'
  | 'trials-succeeded'
  | 'reset'

export interface CircuitStateChange {
  breaker: string
  from: CircuitState
  to: CircuitState
  reason: CircuitTransitionReason
}

export interface CircuitBreakerOptions {
  /** Names the breaker in errors and events (default `circuit`). */
  name?: string
  /** Off switch: `false` means always closed, never rejects, records nothing. */
  enabled?: boolean
  /** Opens when at least this fraction of calls in the window failed (default 0.5)… */
  failureRateThreshold?: number
  /** …and the window holds at least this many calls (default 20), so two failures in a quiet minute do not open it. */
  minimumRequests?: number
  /** Length of the rolling window (default 10 000 ms)… */
  windowMs?: number
  /** …kept as this many buckets (default 10); old buckets drop out whole. */
  windowBuckets?: number
  /** Also opens after this many failures in a row, whatever the window says (default: off). */
  consecutiveFailures?: number
  /** How long it stays open before letting trial calls through (default 5 000 ms). */
  openMs?: number
  /** Trial calls let through when half-open (default 1); all must succeed to close. */
  halfOpenMaxCalls?: number
  /**
   * Which errors count against the dependency (default: every error). Return false for errors
   * that say nothing about its health, e.g. a 404 or a validation error.
   */
  isFailure?: (error: unknown) => boolean
  clock?: Clock
  onStateChange?: (change: CircuitStateChange) => void
}

export interface CircuitBreakerStats {
  state: CircuitState
  enabled: boolean
  successes: number
  failures: number
  /** Calls failed fast with {@link CircuitOpenError}. */
  rejected: number
  windowCalls: number
  windowFailures: number
  consecutiveFailures: number
}

interface Bucket {
  id: number
  calls: number
  failures: number
}

/**
 * Stops calling a dependency that is failing, so it gets room to recover and callers get a fast
 * error instead of a slow one (pm06, pm08, pm19). Closed: calls pass and outcomes fill a rolling
 * window; open: calls fail fast for `openMs`; half-open: `halfOpenMaxCalls` trial calls decide —
 * all succeed → closed, one fails → open again.
 *
 * Open → half-open happens lazily, on the first call or `state` read after `openMs`, so the
 * breaker needs no timer; read `state` on a metrics scrape to observe it.
 *
 * A trial call that never settles keeps the breaker half-open: give the wrapped call a timeout.
 */
export class CircuitBreaker {
  readonly name: string
  readonly #options: Required<
    Omit<CircuitBreakerOptions, 'name' | 'enabled' | 'clock' | 'onStateChange' | 'consecutiveFailures'>
  > & { consecutiveFailures: number }
  readonly #clock: Clock
  readonly #onStateChange: ((change: CircuitStateChange) => void) | undefined
  readonly #bucketMs: number
  #enabled: boolean
  #state: CircuitState = 'closed'
  /** Bumped on each transition; results of calls admitted under an older generation are ignored. */
  #generation = 0
  #openedAtMs = 0
  #trialsIssued = 0
  #trialSuccesses = 0
  #buckets: Bucket[]
  #consecutiveFailures = 0
  #successes = 0
  #failures = 0
  #rejected = 0

  constructor(options: CircuitBreakerOptions = {}) {
    this.name = options.name ?? 'circuit'
    this.#clock = options.clock ?? systemClock
    this.#onStateChange = options.onStateChange
    this.#enabled = options.enabled ?? true
    this.#options = {
      failureRateThreshold: options.failureRateThreshold ?? 0.5,
      minimumRequests: options.minimumRequests ?? 20,
      windowMs: options.windowMs ?? 10_000,
      windowBuckets: options.windowBuckets ?? 10,
      consecutiveFailures: options.consecutiveFailures ?? Number.POSITIVE_INFINITY,
      openMs: options.openMs ?? 5_000,
      halfOpenMaxCalls: options.halfOpenMaxCalls ?? 1,
      isFailure: options.isFailure ?? (() => true),
    }
    if (this.#options.windowBuckets < 1 || this.#options.halfOpenMaxCalls < 1) {
      throw new RangeError('windowBuckets and halfOpenMaxCalls must be ≥ 1')
    }
    this.#bucketMs = this.#options.windowMs / this.#options.windowBuckets
    this.#buckets = Array.from({ length: this.#options.windowBuckets }, () => ({
      id: Number.NEGATIVE_INFINITY,
      calls: 0,
      failures: 0,
    }))
  }

  /** The off switch, flippable at run time; flipping it resets the breaker to closed. */
  get enabled(): boolean {
    return this.#enabled
  }

  set enabled(value: boolean) {
    if (value === this.#enabled) return
    this.#enabled = value
    this.reset()
  }

  /** Current state; `closed` whenever the breaker is disabled. */
  get state(): CircuitState {
    if (!this.#enabled) return 'closed'
    if (this.#state === 'open' && this.#clock.now() - this.#openedAtMs >= this.#options.openMs) {
      this.#transition('half-open', 'open-elapsed')
    }
    return this.#state
  }

  /** Runs `fn` through the breaker, or rejects at once with {@link CircuitOpenError}. */
  async execute<T>(fn: () => Promise<T> | T): Promise<T> {
    if (!this.#enabled) return fn()
    const generation = this.#admit()
    let value: T
    try {
      value = await fn()
    } catch (err) {
      this.#record(generation, !this.#options.isFailure(err))
      throw err
    }
    this.#record(generation, true)
    return value
  }

  /** Back to closed with an empty window (also what flipping `enabled` does). */
  reset(): void {
    if (this.#state !== 'closed') this.#transition('closed', 'reset')
    else this.#clearWindow()
  }

  stats(): CircuitBreakerStats {
    const window = this.#window()
    return {
      state: this.state,
      enabled: this.#enabled,
      successes: this.#successes,
      failures: this.#failures,
      rejected: this.#rejected,
      windowCalls: window.calls,
      windowFailures: window.failures,
      consecutiveFailures: this.#consecutiveFailures,
    }
  }

  #admit(): number {
    const state = this.state
    if (state === 'open') {
      this.#rejected++
      throw new CircuitOpenError(this.name, this.#openedAtMs + this.#options.openMs - this.#clock.now())
    }
    if (state === 'half-open') {
      if (this.#trialsIssued >= this.#options.halfOpenMaxCalls) {
        this.#rejected++
        throw new CircuitOpenError(this.name, 0)
      }
      this.#trialsIssued++
    }
    return this.#generation
  }

  #record(generation: number, success: boolean): void {
    if (success) this.#successes++
    else this.#failures++
    if (!this.#enabled || generation !== this.#generation) return

    if (this.#state === 'half-open') {
      if (!success) this.#transition('open', 'trial-failed')
      else if (++this.#trialSuccesses >= this.#options.halfOpenMaxCalls)
        this.#transition('closed', 'trials-succeeded')
      return
    }
    if (this.#state !== 'closed') return

    const bucket = this.#currentBucket()
    bucket.calls++
    if (success) {
      this.#consecutiveFailures = 0
      return
    }
    bucket.failures++
    this.#consecutiveFailures++
    if (this.#consecutiveFailures >= this.#options.consecutiveFailures) {
      this.#transition('open', 'consecutive-failures')
      return
    }
    const window = this.#window()
    if (
      window.calls >= this.#options.minimumRequests &&
      window.failures >= window.calls * this.#options.failureRateThreshold
    ) {
      this.#transition('open', 'failure-rate')
    }
  }

  #transition(to: CircuitState, reason: CircuitTransitionReason): void {
    const from = this.#state
    this.#state = to
    this.#generation++
    this.#trialsIssued = 0
    this.#trialSuccesses = 0
    if (to === 'open') this.#openedAtMs = this.#clock.now()
    if (to === 'closed' || to === 'open') this.#clearWindow()
    this.#onStateChange?.({ breaker: this.name, from, to, reason })
  }

  #clearWindow(): void {
    for (const bucket of this.#buckets) {
      bucket.calls = 0
      bucket.failures = 0
    }
    this.#consecutiveFailures = 0
  }

  #currentBucket(): Bucket {
    const id = Math.floor(this.#clock.now() / this.#bucketMs)
    const length = this.#buckets.length
    const bucket = this.#buckets[((id % length) + length) % length] as Bucket
    if (bucket.id !== id) {
      bucket.id = id
      bucket.calls = 0
      bucket.failures = 0
    }
    return bucket
  }

  #window(): { calls: number; failures: number } {
    const oldestId = Math.floor(this.#clock.now() / this.#bucketMs) - this.#buckets.length
    let calls = 0
    let failures = 0
    for (const bucket of this.#buckets) {
      if (bucket.id > oldestId) {
        calls += bucket.calls
        failures += bucket.failures
      }
    }
    return { calls, failures }
  }
}
