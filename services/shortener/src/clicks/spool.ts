/**
 * One redirect served. Every recorder (one per process start) numbers the events it keeps
 * 0, 1, 2, …: `producer` + `seq` is what lets the worker count each event once under replays
 * (see batch.ts).
 */
export interface ClickEvent {
  /** The recorder that took it: a uuid per process start. */
  producer: string
  /** Its place in that recorder's stream; the events a recorder keeps have consecutive numbers. */
  seq: number
  code: string
  /** Epoch milliseconds of the redirect. */
  ts: number
}

/** What the recorder needs of a spool: a bounded FIFO it peeks at and trims after publishing. */
export interface Spool {
  /** True when what it holds survives the process (FileClickSpool). */
  readonly durable?: boolean
  readonly capacity: number
  readonly size: number
  /** Appends `event`; false when full (the event is NOT kept: the caller counts it). */
  push(event: ClickEvent): boolean
  /** The oldest `max` events, left in place. */
  peek(max: number): ClickEvent[]
  /** Drops the oldest `n` events, once published (or given up on). */
  remove(n: number): void
  close?(): void
}

/**
 * A bounded in-memory FIFO of click events (a ring buffer): the redirect path appends and never
 * waits; the publisher reads the oldest events, and removes them only once Kafka acknowledged
 * them. When full, the NEWEST event is refused (push returns false) and the caller counts it:
 * a batch being published is never disturbed, and what was accepted first leaves first.
 *
 * In memory, so a crash loses what it holds (at most `capacity` events; the
 * `shortener_clicks_spooled` gauge says how many were at risk). A durable spool would append to
 * a file per instance instead; see the README.
 */
export class ClickSpool implements Spool {
  readonly capacity: number
  readonly #buffer: Array<ClickEvent | undefined>
  #head = 0
  #size = 0

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('spool capacity must be ≥ 1')
    this.capacity = capacity
    this.#buffer = new Array(capacity)
  }

  get size(): number {
    return this.#size
  }

  /** Appends `event`; false when the spool is full (the event is NOT kept: count it). */
  push(event: ClickEvent): boolean {
    if (this.#size >= this.capacity) return false
    this.#buffer[(this.#head + this.#size) % this.capacity] = event
    this.#size++
    return true
  }

  /** The oldest `max` events, left in place. */
  peek(max: number): ClickEvent[] {
    const n = Math.min(max, this.#size)
    const out: ClickEvent[] = new Array(n)
    for (let i = 0; i < n; i++) out[i] = this.#buffer[(this.#head + i) % this.capacity] as ClickEvent
    return out
  }

  /** Drops the oldest `n` events (after they were published, or given up on). */
  remove(n: number): void {
    const count = Math.min(n, this.#size)
    for (let i = 0; i < count; i++) this.#buffer[(this.#head + i) % this.capacity] = undefined
    this.#head = (this.#head + count) % this.capacity
    this.#size -= count
  }
}
