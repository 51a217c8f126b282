import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { backoffDelayMs } from '@faultline/resilience'
import type { Mitigations } from '../mitigations.ts'
import { leadingRunLength } from './batch.ts'
import { type ClickEvent, ClickSpool, type Spool } from './spool.ts'

/** Publishes a run of one recorder's consecutive events (one Kafka message: see batch.ts). */
export type SendClicks = (events: ClickEvent[]) => Promise<void>

export type DropReason = 'spool_full' | 'spool_error' | 'send_failed' | 'shutdown'

/** Hooks for metrics; every event leaves through exactly one of published / dropped. */
export interface ClickRecorderHooks {
  onRecorded?(): void
  onPublished?(count: number): void
  onDropped?(count: number, reason: DropReason): void
  onSendError?(err: unknown, batchSize: number): void
}

export interface ClickRecorderOptions {
  send: SendClicks
  /** Read at every decision: `clickSpool` on = keep and retry, off = one attempt per batch. */
  mitigations: Readonly<Pick<Mitigations, 'clickSpool'>>
  /** `CLICK_SPOOL_MAX`: the in-memory spool's bound (ignored when `spool` is given). */
  spoolMax: number
  /** A spool of your own (the durable FileClickSpool); default: in memory, `spoolMax` events. */
  spool?: Spool
  /** Events per Kafka message. */
  batchMax?: number
  /** How often an idle flusher looks for new events. */
  flushIntervalMs?: number
  /** Backoff after a failed publish (retry mode): base doubling up to max, equal jitter. */
  retryBaseMs?: number
  retryMaxMs?: number
  hooks?: ClickRecorderHooks
  now?: () => number
}

/**
 * The click pipeline's producer side. `record()` is what a redirect calls: it appends to the
 * spool and returns at once — a redirect never waits on Kafka. A single flusher loop publishes
 * the oldest events in batches through the process's one producer.
 *
 * With `clickSpool` on (hardened), a failed publish leaves the batch in the spool and the loop
 * backs off and retries: while Kafka is down events accumulate, up to `spoolMax`, and drain when
 * it returns. With it off (naive), a failed batch is dropped and counted: every click of a Kafka
 * outage is lost (pm04). Either way nothing disappears silently: each event ends up published
 * or counted in `onDropped` with a reason.
 */
export class ClickRecorder {
  readonly spool: Spool
  readonly #options: ClickRecorderOptions
  readonly #batchMax: number
  readonly #flushIntervalMs: number
  readonly #now: () => number
  #running = false
  #stopping: AbortController | undefined
  #loop: Promise<void> | undefined
  #wake: AbortController | undefined
  #consecutiveFailures = 0
  #flushing = false
  #closed = false
  #published = 0
  #dropped = 0
  /** This recorder's id: its events are numbered within it (batch.ts). */
  readonly #producer = randomUUID()
  #nextSeq = 0

  constructor(options: ClickRecorderOptions) {
    this.#options = options
    this.spool = options.spool ?? new ClickSpool(options.spoolMax)
    this.#batchMax = options.batchMax ?? 5000
    this.#flushIntervalMs = options.flushIntervalMs ?? 200
    this.#now = options.now ?? Date.now
  }

  get published(): number {
    return this.#published
  }

  get dropped(): number {
    return this.#dropped
  }

  /** Records one redirect of `code`. Synchronous: never waits, never throws. */
  record(code: string): void {
    const event: ClickEvent = { producer: this.#producer, seq: this.#nextSeq, code, ts: this.#now() }
    this.#options.hooks?.onRecorded?.()
    let accepted: boolean
    try {
      accepted = this.spool.push(event)
    } catch {
      // The durable spool's disk failed (full, gone): the redirect still succeeds.
      this.#drop(1, 'spool_error')
      return
    }
    if (!accepted) {
      this.#drop(1, 'spool_full')
      return
    }
    // Numbers only for the events kept: a run in the spool has consecutive numbers.
    this.#nextSeq++
    if (this.spool.size >= this.#batchMax) this.#wake?.abort()
  }

  start(): void {
    if (this.#running) return
    this.#running = true
    this.#stopping = new AbortController()
    this.#loop = this.#run()
  }

  /**
   * Stops the loop after publishing what the spool holds, within `deadlineMs`; whatever is left
   * then is counted as dropped (reason `shutdown`), never lost silently — or, with a durable
   * spool, stays on disk for the next start.
   */
  async stop(deadlineMs = 5000): Promise<void> {
    if (!this.#running) return
    this.#running = false
    this.#stopping?.abort()
    const deadline = this.#now() + deadlineMs
    // A publish stuck on a hung broker must not hold shutdown past the deadline.
    await Promise.race([this.#loop, sleep(deadlineMs, undefined, { ref: false })])
    while (this.spool.size > 0 && this.#now() < deadline) {
      const ok = await this.flushOnce()
      if (!ok) await sleep(Math.min(200, Math.max(0, deadline - this.#now())))
    }
    this.#closed = true
    // A durable spool keeps what is left for the next process on the same directory.
    if (this.spool.size > 0 && !this.spool.durable) {
      const left = this.spool.size
      this.spool.remove(left)
      this.#drop(left, 'shutdown')
    }
    this.spool.close?.()
  }

  /**
   * Publishes one batch of the oldest events. True when it went out (or there was nothing to
   * send); false when the send failed (the batch is then kept or dropped, per `clickSpool`).
   * A batch is one recorder's run of consecutive numbers: the oldest events may be a previous
   * process's, recovered from a durable spool, and go out on their own.
   */
  async flushOnce(): Promise<boolean> {
    // One publish at a time, oldest first — the order the worker's watermarks rely on: the batch
    // is removed from the spool only after its send settles.
    if (this.#flushing) return false
    const oldest = this.spool.peek(this.#batchMax)
    const batch = oldest.slice(0, leadingRunLength(oldest))
    if (batch.length === 0) return true
    this.#flushing = true
    try {
      await this.#options.send(batch)
    } catch (err) {
      this.#options.hooks?.onSendError?.(err, batch.length)
      if (!this.#options.mitigations.clickSpool) {
        this.spool.remove(batch.length)
        this.#drop(batch.length, 'send_failed')
      }
      return false
    } finally {
      this.#flushing = false
    }
    // A send that was stuck past stop()'s deadline: its events were already counted as dropped.
    if (this.#closed) return true
    this.spool.remove(batch.length)
    this.#published += batch.length
    this.#options.hooks?.onPublished?.(batch.length)
    return true
  }

  async #run(): Promise<void> {
    while (this.#running) {
      if (this.spool.size === 0) {
        await this.#idle(this.#flushIntervalMs)
        continue
      }
      const ok = await this.flushOnce()
      if (ok) {
        this.#consecutiveFailures = 0
        // Let a partial batch fill up a little instead of sending one event per request.
        if (this.spool.size < this.#batchMax) await this.#idle(this.#flushIntervalMs)
      } else {
        this.#consecutiveFailures++
        const base = this.#options.retryBaseMs ?? 100
        const max = this.#options.retryMaxMs ?? 5000
        // Equal jitter: a publisher that retries until Kafka is back never spins at ~0 ms sleeps.
        const delayMs = backoffDelayMs(this.#consecutiveFailures - 1, {
          backoff: 'equal-jitter',
          baseMs: base,
          capMs: max,
        })
        await this.#idle(delayMs, false)
      }
    }
  }

  /** Sleeps `ms`, or until a full batch is waiting (when `wakeOnBatch`), or until stop(). */
  async #idle(ms: number, wakeOnBatch = true): Promise<void> {
    const wake = new AbortController()
    if (wakeOnBatch) this.#wake = wake
    const signals = [wake.signal]
    if (this.#stopping) signals.push(this.#stopping.signal)
    try {
      await sleep(ms, undefined, { signal: AbortSignal.any(signals) })
    } catch {
      // Woken early: a full batch is waiting, or the recorder is stopping.
    } finally {
      if (this.#wake === wake) this.#wake = undefined
    }
  }

  #drop(count: number, reason: DropReason): void {
    this.#dropped += count
    this.#options.hooks?.onDropped?.(count, reason)
  }
}
