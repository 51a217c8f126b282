/**
 * Leases a block of `blockSize` ids (returns the first id of the block). Implemented against
 * Postgres by `LinkRepository.leaseIdBlock`: one `UPDATE … RETURNING` on a one-row table, so
 * two leases never overlap, whatever block size each instance uses.
 */
export type LeaseBlock = (blockSize: number) => Promise<number>

export interface BlockAllocatorOptions {
  lease: LeaseBlock
  /** Ids per lease. Larger: fewer round trips, more ids lost when an instance stops. */
  blockSize: number
  /**
   * When this many ids (or fewer) remain in the current block, the next block is leased in the
   * background, so the create path normally never waits for Postgres to get an id.
   * Default: a quarter of the block.
   */
  prefetchAt?: number
  /** Called with each leased block (for a metric or a log line). */
  onLease?: (block: { start: number; size: number }) => void
}

interface Block {
  next: number
  end: number
}

/**
 * Hands out unique ids from leased blocks: the create path takes the next id from memory, and
 * only talks to Postgres once per block — collision-free across any number of instances without
 * a coordinator round trip per link. Ids are unique, not dense: a block an instance leased and
 * did not finish is skipped for good when it stops.
 */
export class BlockAllocator {
  readonly #lease: LeaseBlock
  readonly #blockSize: number
  readonly #prefetchAt: number
  readonly #onLease: BlockAllocatorOptions['onLease']
  #current: Block | undefined
  #pending: Promise<Block> | undefined
  #leases = 0

  constructor(options: BlockAllocatorOptions) {
    if (!Number.isSafeInteger(options.blockSize) || options.blockSize < 1) {
      throw new RangeError('blockSize must be a positive integer')
    }
    this.#lease = options.lease
    this.#blockSize = options.blockSize
    this.#prefetchAt = options.prefetchAt ?? Math.floor(options.blockSize / 4)
    this.#onLease = options.onLease
  }

  /** Blocks leased so far. */
  get leases(): number {
    return this.#leases
  }

  /** Ids left in the current block. */
  get remaining(): number {
    return this.#current ? this.#current.end - this.#current.next : 0
  }

  async next(): Promise<number> {
    for (;;) {
      const block = this.#current
      if (block && block.next < block.end) {
        const id = block.next++
        if (block.end - block.next <= this.#prefetchAt) this.#prefetch().catch(() => {})
        return id
      }
      // The current block is spent: wait for the one being leased (or start leasing it). All
      // callers that arrive meanwhile share that one lease.
      const pending = this.#prefetch()
      const next = await pending
      // Install it unless another caller already did (and maybe started leasing the one after).
      if (this.#current === block) this.#current = next
      if (this.#pending === pending) this.#pending = undefined
    }
  }

  #prefetch(): Promise<Block> {
    if (!this.#pending) {
      const pending = this.#lease(this.#blockSize).then(
        (start) => {
          if (!Number.isSafeInteger(start) || start < 0) throw new RangeError(`leased block start ${start}`)
          this.#leases++
          this.#onLease?.({ start, size: this.#blockSize })
          return { next: start, end: start + this.#blockSize }
        },
        (err: unknown) => {
          // Forget a failed lease so the next call tries again instead of failing forever.
          if (this.#pending === pending) this.#pending = undefined
          throw err
        },
      )
      this.#pending = pending
    }
    return this.#pending
  }
}
