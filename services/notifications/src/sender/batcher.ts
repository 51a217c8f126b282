/**
 * Turns the calls of the jobs running at once into one call on a list: the channel worker's claims
 * and `sent` writes, each otherwise a Postgres round trip and a commit per delivery. An idle
 * batcher runs the first item on the next turn of the event loop (no timer, so no added latency
 * at low load); the items that arrive while a batch is in flight go together in the next one as
 * soon as it returns — the busier the worker, the bigger the batches. Each caller waits for its
 * own batch: a batch that fails rejects every item in it, and nothing else.
 */

export interface BatcherOptions<I> {
  /** Most items per batch. @default 500 */
  maxBatch?: number
  /** Items with different keys never share a batch (e.g. a switch's value). */
  batchKey?(item: I): string
  /** Items with the same key never share a batch: the later one waits for the next (e.g. an id). */
  distinctKey?(item: I): string
}

interface Waiting<I, O> {
  item: I
  resolve(out: O): void
  reject(err: unknown): void
}

export class Batcher<I, O> {
  readonly #run: (items: I[]) => Promise<O[]>
  readonly #o: BatcherOptions<I>
  #waiting: Waiting<I, O>[] = []
  #running: Promise<void> | null = null

  /** `run` returns one result per item, in the items' order; throwing fails the whole batch. */
  constructor(run: (items: I[]) => Promise<O[]>, o: BatcherOptions<I> = {}) {
    this.#run = run
    this.#o = o
  }

  /** Resolves with this item's result once its batch has run; rejects when the batch failed. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject })
      this.#running ??= this.#drain()
    })
  }

  /** Resolves when every item submitted so far has been run (or has failed). */
  async flushed(): Promise<void> {
    while (this.#running) await this.#running
  }

  async #drain(): Promise<void> {
    // One turn of the event loop lets the jobs finishing together join the first batch.
    await new Promise<void>((r) => setImmediate(r))
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#take()
        try {
          const out = await this.#run(batch.map((w) => w.item))
          for (const [i, w] of batch.entries()) w.resolve(out[i] as O)
        } catch (err) {
          for (const w of batch) w.reject(err)
        }
      }
    } finally {
      this.#running = null
    }
  }

  /** The next batch, oldest first; what cannot join it stays waiting in its order. */
  #take(): Waiting<I, O>[] {
    const { maxBatch = 500, batchKey, distinctKey } = this.#o
    const first = this.#waiting[0] as Waiting<I, O>
    const key = batchKey?.(first.item)
    const seen = new Set<string>()
    const batch: Waiting<I, O>[] = []
    const rest: Waiting<I, O>[] = []
    for (const w of this.#waiting) {
      const distinct = distinctKey?.(w.item)
      const fits =
        batch.length < maxBatch &&
        (batchKey === undefined || batchKey(w.item) === key) &&
        (distinct === undefined || !seen.has(distinct))
      if (!fits) {
        rest.push(w)
        continue
      }
      if (distinct !== undefined) seen.add(distinct)
      batch.push(w)
    }
    this.#waiting = rest
    return batch
  }
}
