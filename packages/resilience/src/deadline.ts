import { type Clock, setExpiryTimer, systemClock } from './clock.ts'
import { DeadlineExceededError } from './errors.ts'
import { withTimeout } from './timeout.ts'

export interface DeadlineOptions {
  clock?: Clock
  /** Aborts the deadline early, e.g. when the client that asked for the work disconnects. */
  signal?: AbortSignal
  /** Off switch: `false` gives a deadline that never expires (only `signal` can cancel it). */
  enabled?: boolean
}

/**
 * An absolute time budget for one unit of work (a request), passed down through every call it
 * makes so that each layer spends what is left instead of restarting its own full timeout.
 * Across a process boundary send `remainingMs()` (as gRPC's `grpc-timeout` does) and rebuild it
 * with `Deadline.after()` on the other side: clocks of two hosts are not comparable.
 */
export class Deadline {
  /** When it expires, on `clock`'s scale; `Infinity` for a deadline that never expires. */
  readonly expiresAtMs: number
  readonly clock: Clock
  readonly #parent: Deadline | undefined
  readonly #external: AbortSignal | undefined
  #signal: AbortSignal | undefined

  private constructor(expiresAtMs: number, clock: Clock, parent?: Deadline, external?: AbortSignal) {
    this.expiresAtMs = expiresAtMs
    this.clock = clock
    this.#parent = parent
    this.#external = external
  }

  /** A deadline `ms` from now. */
  static after(ms: number, options: DeadlineOptions = {}): Deadline {
    const { clock = systemClock, signal, enabled = true } = options
    return new Deadline(enabled ? clock.now() + ms : Number.POSITIVE_INFINITY, clock, undefined, signal)
  }

  /** A deadline that never expires (tests, background jobs); `signal` can still cancel it. */
  static never(options: Omit<DeadlineOptions, 'enabled'> = {}): Deadline {
    return Deadline.after(Number.POSITIVE_INFINITY, options)
  }

  /** Milliseconds left, never negative; `Infinity` when unbounded. */
  remainingMs(): number {
    return Math.max(0, this.expiresAtMs - this.clock.now())
  }

  /** True once the time is up or the work was cancelled (here or by an ancestor). */
  isExpired(): boolean {
    return this.remainingMs() <= 0 || this.#cancelled()
  }

  /** Throws the reason the work should stop, if it should. */
  throwIfExpired(): void {
    if (this.#signal?.aborted) throw this.#signal.reason
    if (this.#parent?.isExpired()) this.#parent.throwIfExpired()
    if (this.#external?.aborted) throw this.#external.reason
    if (this.remainingMs() <= 0) throw new DeadlineExceededError()
  }

  /**
   * Aborts with a {@link DeadlineExceededError} when the time is up, or with the reason of the
   * parent's or the external signal. Created on first use: a deadline nobody listens to costs no
   * timer. The timer is unref'd so a pending deadline never keeps the process alive.
   */
  get signal(): AbortSignal {
    if (this.#signal) return this.#signal
    const controller = new AbortController()
    this.#signal = controller.signal
    const sources = [this.#parent?.signal, this.#external].filter((s) => s !== undefined)
    const cancelTimer = Number.isFinite(this.expiresAtMs)
      ? setExpiryTimer(this.clock, this.remainingMs(), () => abort(new DeadlineExceededError()), {
          unref: true,
        })
      : () => {}
    const onSourceAbort = (event: Event) => abort((event.target as AbortSignal).reason)
    function abort(reason: unknown) {
      cancelTimer()
      for (const source of sources) source.removeEventListener('abort', onSourceAbort)
      controller.abort(reason)
    }
    const aborted = sources.find((s) => s.aborted)
    if (aborted) abort(aborted.reason)
    else if (this.remainingMs() <= 0) abort(new DeadlineExceededError())
    else for (const source of sources) source.addEventListener('abort', onSourceAbort, { once: true })
    return this.#signal
  }

  /**
   * A deadline for a sub-call: at most `maxMs` from now and never later than this one; it is
   * cancelled when this one is.
   */
  child(maxMs: number): Deadline {
    return new Deadline(Math.min(this.expiresAtMs, this.clock.now() + maxMs), this.clock, this)
  }

  #cancelled(): boolean {
    return Boolean(this.#signal?.aborted || this.#external?.aborted || this.#parent?.isExpired())
  }
}

export interface IfStillTimeOptions {
  /** Drop the work unless at least this much time is left (default 0): no time, no use. */
  minRemainingMs?: number
  /** Off switch (the naive server): `false` always does the work, however late. */
  enabled?: boolean
  /** Called when the work is dropped without starting, for a "dropped" counter. */
  onDrop?: () => void
}

/**
 * "Drop work past its deadline": runs `fn` only if `deadline` still has time (so a server
 * drained from a backlog does not spend capacity on answers nobody waits for, pm06) and rejects
 * with {@link DeadlineExceededError} when it runs out mid-way, aborting the signal `fn` got.
 * Without a deadline it just runs `fn`.
 */
export async function ifStillTime<T>(
  deadline: Deadline | undefined,
  fn: (signal: AbortSignal) => Promise<T> | T,
  options: IfStillTimeOptions = {},
): Promise<T> {
  const { minRemainingMs = 0, enabled = true, onDrop } = options
  if (!enabled || !deadline) return fn(new AbortController().signal)
  if (deadline.isExpired() || deadline.remainingMs() <= minRemainingMs) {
    onDrop?.()
    if (deadline.isExpired()) deadline.throwIfExpired()
    throw new DeadlineExceededError(`dropped: ${deadline.remainingMs()} ms left, ${minRemainingMs} ms needed`)
  }
  return withTimeout(fn, Number.POSITIVE_INFINITY, { signal: deadline.signal, clock: deadline.clock })
}
