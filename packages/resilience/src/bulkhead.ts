import { BulkheadFullError } from './errors.ts'

export interface BulkheadOptions {
  /** Names the bulkhead in errors (default `bulkhead`). */
  name?: string
  /** Calls running at once. */
  maxConcurrent: number
  /** Calls waiting for a slot (default 0: reject as soon as every slot is busy). */
  maxQueue?: number
  /** Off switch: `false` admits everything at once (no limit, no queue, no rejection). */
  enabled?: boolean
  onEvent?: (event: { type: 'admitted' | 'queued' | 'rejected' }) => void
}

export interface BulkheadStats {
  enabled: boolean
  active: number
  queued: number
  admitted: number
  rejected: number
}

interface Waiter {
  start: () => void
  signal: AbortSignal | undefined
  onAbort: () => void
}

/**
 * A concurrency limit with a bounded FIFO queue. It keeps one slow dependency or one cold path
 * from taking every connection and all memory (pm02's admission limit on the cold path, pm20's
 * isolation): past `maxConcurrent + maxQueue` calls it sheds load with {@link BulkheadFullError}
 * at once, which is cheap and lets the caller serve a fallback, instead of queueing without end.
 */
export class Bulkhead {
  readonly name: string
  /** Settable at run time; lowering it sheds nothing that already runs. */
  maxQueue: number
  #maxConcurrent: number
  readonly #onEvent: BulkheadOptions['onEvent']
  #enabled: boolean
  #active = 0
  #queue: Waiter[] = []
  #admitted = 0
  #rejected = 0

  constructor(options: BulkheadOptions) {
    if (!(options.maxConcurrent >= 1)) throw new RangeError('maxConcurrent must be ≥ 1')
    this.name = options.name ?? 'bulkhead'
    this.#maxConcurrent = options.maxConcurrent
    this.maxQueue = options.maxQueue ?? 0
    this.#enabled = options.enabled ?? true
    this.#onEvent = options.onEvent
  }

  get maxConcurrent(): number {
    return this.#maxConcurrent
  }

  /** Settable at run time; raising it starts queued calls at once. */
  set maxConcurrent(value: number) {
    if (!(value >= 1)) throw new RangeError('maxConcurrent must be ≥ 1')
    this.#maxConcurrent = value
    this.#drain()
  }

  /** The off switch, flippable at run time; turning it off starts every queued call. */
  get enabled(): boolean {
    return this.#enabled
  }

  set enabled(value: boolean) {
    this.#enabled = value
    this.#drain()
  }

  /**
   * Runs `fn` when a slot is free. Rejects with {@link BulkheadFullError} when slots and queue
   * are full, or with the signal's reason if it aborts while the call waits (a queued request
   * whose deadline passes leaves the queue).
   */
  async run<T>(fn: () => Promise<T> | T, options: { signal?: AbortSignal } = {}): Promise<T> {
    const { signal } = options
    if (signal?.aborted) throw signal.reason
    if (this.#enabled && this.#active >= this.#maxConcurrent) {
      if (this.#queue.length >= this.maxQueue) {
        this.#rejected++
        this.#onEvent?.({ type: 'rejected' })
        throw new BulkheadFullError(this.name)
      }
      this.#onEvent?.({ type: 'queued' })
      await this.#wait(signal)
    } else {
      this.#active++
    }
    this.#admitted++
    this.#onEvent?.({ type: 'admitted' })
    try {
      return await fn()
    } finally {
      this.#active--
      this.#drain()
    }
  }

  stats(): BulkheadStats {
    return {
      enabled: this.#enabled,
      active: this.#active,
      queued: this.#queue.length,
      admitted: this.#admitted,
      rejected: this.#rejected,
    }
  }

  /** Resolves once a slot has been handed over (the slot is counted in `#active` already). */
  #wait(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        signal,
        start: resolve,
        onAbort: () => {
          this.#queue = this.#queue.filter((w) => w !== waiter)
          reject(signal?.reason)
        },
      }
      signal?.addEventListener('abort', waiter.onAbort, { once: true })
      this.#queue.push(waiter)
    })
  }

  #drain(): void {
    while (this.#queue.length > 0 && (!this.#enabled || this.#active < this.#maxConcurrent)) {
      const waiter = this.#queue.shift() as Waiter
      waiter.signal?.removeEventListener('abort', waiter.onAbort)
      this.#active++
      waiter.start()
    }
  }
}
