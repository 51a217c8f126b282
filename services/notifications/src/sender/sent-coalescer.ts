/**
 * The channel worker's `sent` writes, coalesced (a Batcher): under load each job's own markSent
 * was a Postgres round trip and a commit per delivery; the jobs finishing together are now written
 * by one markSentMany. A job waits until ITS row is written, so it completes only after that.
 *
 * A crash (or a failed batch UPDATE) after the provider accepted the message and before the write
 * leaves the row `sending`: the job has not completed, BullMQ runs it again, the claim takes the
 * `sending` row and the send is repeated with the same delivery id as its Idempotency-Key, which
 * the provider answers from the key (the same message id, no second message). That is the same
 * window as a crash between the send and a single markSent; batching only makes it a few
 * milliseconds wider.
 */
import type { DeliveryRepository, SentRecord } from '../repositories/deliveries.ts'
import { Batcher, type BatcherOptions } from './batcher.ts'

export type { SentRecord }

/** Writes a batch of sent records in one statement; throws when the batch was not written. */
export type WriteSent = (records: SentRecord[]) => Promise<void>

export class SentCoalescer {
  readonly #batcher: Batcher<SentRecord, void>

  constructor(write: WriteSent, o: Pick<BatcherOptions<SentRecord>, 'maxBatch'> = {}) {
    this.#batcher = new Batcher(async (records) => {
      await write(records)
      return records.map(() => undefined)
    }, o)
  }

  /** Resolves once this delivery's row says `sent`; rejects when its batch's write failed. */
  markSent(id: string, provider: string, messageId: string | null): Promise<void> {
    return this.#batcher.submit({ id, provider, messageId })
  }

  /** Resolves when every record asked for so far has been written (or has failed). */
  flushed(): Promise<void> {
    return this.#batcher.flushed()
  }
}

/**
 * The channel worker's claims, coalesced the same way: the jobs starting together are claimed by
 * one claimManyForSend, each row by the same conditional update as a claim of its own, so a
 * delivery that is not pending is still not claimed. Two runs of one delivery never share a batch
 * (the second waits for the next), so each is claimed, or not, as it would have been alone. A
 * failed batch fails its jobs before anything was sent; BullMQ retries them.
 */
export class ClaimCoalescer {
  readonly #batcher: Batcher<{ id: string; onlyPending: boolean }, ClaimedForSendOrNull>

  constructor(deliveries: Pick<DeliveryRepository, 'claimManyForSend'>, o: { maxBatch?: number } = {}) {
    this.#batcher = new Batcher(
      async (items) => {
        const onlyPending = (items[0] as { onlyPending: boolean }).onlyPending
        const claimed = await deliveries.claimManyForSend(
          items.map((i) => i.id),
          onlyPending,
        )
        return items.map((i) => claimed.get(i.id) ?? null)
      },
      { ...o, batchKey: (i) => String(i.onlyPending), distinctKey: (i) => i.id },
    )
  }

  /** claimForSend's answer for this delivery, from the batch it joined. */
  claimForSend(id: string, onlyPending: boolean): Promise<ClaimedForSendOrNull> {
    return this.#batcher.submit({ id, onlyPending })
  }
}

type ClaimedForSendOrNull = Awaited<ReturnType<DeliveryRepository['claimForSend']>>
