/**
 * The router's backpressure: Kafka holds the backlog, not the queue Redis. Before routing a chunk
 * the router reads how many jobs its channel queues hold (waiting, prioritized, delayed, active)
 * and, above ROUTER_QUEUE_HIGH_WATER, waits — heartbeating, so the group keeps its partitions —
 * until the workers have brought it down. The messages stay in Kafka (on disk, retained for days)
 * and their offsets uncommitted.
 *
 * Why: the queue Redis has a memory limit with `noeviction` (evicting would lose jobs). A soak
 * whose workers were killed every 5 s let the router move 144 000 jobs into it faster than they
 * drained; with the day's completed jobs kept as well it reached its 256 MB, and then every write
 * failed — the router's enqueues, and also the workers' own move of a job to active, so nothing
 * could drain either: the pipeline stopped for good (measured 2026-12-06, docs/notifications.md).
 */
import { setTimeout as sleep } from 'node:timers/promises'

export interface QueueBackpressureOptions {
  /** Jobs held by the channel queues now. */
  depth: () => Promise<number>
  /** ROUTER_QUEUE_HIGH_WATER: above this many jobs the router waits. */
  highWater: number
  /** How often the depth is read again while waiting. @default 500 */
  pollMs?: number
  onWait?: (depth: number) => void
}

export class QueueBackpressure {
  readonly #o: QueueBackpressureOptions

  constructor(options: QueueBackpressureOptions) {
    this.#o = options
  }

  /**
   * Resolves true once the queues are under the mark; false when `keepGoing` says to stop first
   * (the consumer stops or lost the partition). `whileWaiting` runs after each poll (a heartbeat).
   * A failed depth read does not hold the router: the enqueue itself will fail and be retried.
   */
  async room(keepGoing: () => boolean, whileWaiting: () => Promise<void>): Promise<boolean> {
    // Read for every chunk (four counts, one round trip each, against a chunk's insert and
    // addBulk): a depth reused for even 250 ms let three more chunks past the mark in a test.
    let waited = false
    for (;;) {
      const depth = await this.#o.depth().catch(() => 0)
      if (depth <= this.#o.highWater) return true
      if (!waited) this.#o.onWait?.(depth)
      waited = true
      await sleep(this.#o.pollMs ?? 500)
      await whileWaiting()
      if (!keepGoing()) return false
    }
  }
}
