import { setTimeout as sleep } from 'node:timers/promises'
import { backoffDelayMs } from '@faultline/resilience'
import type { Consumer, EachBatchPayload } from 'kafkajs'
import type { WorkerMetrics } from '../metrics.ts'
import type { ApplyResult, ClickRepository } from '../repositories/clicks.ts'
import { type ClickBatch, parseClickBatch } from './batch.ts'

export interface Log {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface ClickBatchHandlerOptions {
  clicks: Pick<ClickRepository, 'applyBatches'>
  metrics: WorkerMetrics
  log: Log
  /** Click events per Postgres transaction (whole messages: a chunk may go over by one message). */
  chunkSize?: number
  retryBaseMs?: number
  retryMaxMs?: number
}

/**
 * kafkajs `eachBatch`: applies a partition's messages to Postgres in chunks, each chunk one
 * idempotent transaction (ClickRepository.applyBatches), and resolves the offset of a chunk only
 * after Postgres committed it. When Postgres is down it retries the same chunk with backoff,
 * heartbeating so the group keeps the partition, until Postgres is back or the consumer stops;
 * nothing is skipped. A crash between the commit in Postgres and the offset commit in Kafka
 * replays the chunk, and the recorders' watermarks make the replay count zero.
 */
export function createClickBatchHandler(o: ClickBatchHandlerOptions) {
  const chunkSize = o.chunkSize ?? 5000
  const baseMs = o.retryBaseMs ?? 200
  const maxMs = o.retryMaxMs ?? 5000

  return async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload
    let chunk: ClickBatch[] = []
    let chunkEvents = 0
    let chunkLastOffset: string | undefined
    const flush = async () => {
      if (chunkLastOffset === undefined) return
      if (chunk.length > 0) {
        const result = await applyWithRetry(chunk)
        if (!result) return
      }
      resolveOffset(chunkLastOffset)
      await commitOffsetsIfNecessary()
      chunk = []
      chunkEvents = 0
      chunkLastOffset = undefined
    }
    const applyWithRetry = async (batches: ClickBatch[]): Promise<ApplyResult | undefined> => {
      for (let attempt = 0; ; attempt++) {
        if (!isRunning() || isStale()) return undefined
        try {
          const result = await o.clicks.applyBatches(batches)
          o.metrics.batches.inc()
          o.metrics.counted.inc(result.counted)
          o.metrics.duplicates.inc(result.duplicates)
          return result
        } catch (err) {
          o.metrics.applyErrors.inc()
          if (attempt === 0 || attempt % 10 === 0) {
            o.log.warn({ err, attempt, events: chunkEvents }, 'applying clicks failed; retrying')
          }
          // Equal jitter: retrying the same chunk until Postgres is back, never at ~0 ms sleeps.
          await sleep(backoffDelayMs(attempt, { backoff: 'equal-jitter', baseMs, capMs: maxMs }))
          await heartbeat().catch(() => {})
        }
      }
    }

    for (const message of batch.messages) {
      if (!isRunning() || isStale()) break
      const clicks = parseClickBatch(message.value)
      if (clicks) {
        chunk.push(clicks)
        chunkEvents += clicks.codes.length
        o.metrics.consumed.inc(clicks.codes.length)
      } else {
        o.metrics.invalid.inc()
      }
      chunkLastOffset = message.offset
      if (chunkEvents >= chunkSize) {
        await flush()
        if (chunkLastOffset !== undefined) return // Stopped while retrying: leave the rest for redelivery.
        await heartbeat()
      }
    }
    await flush()
  }
}

/** Starts consuming `topic` with the handler above; manual offset resolution. */
export async function runClickConsumer(
  consumer: Consumer,
  topic: string,
  handler: ReturnType<typeof createClickBatchHandler>,
): Promise<void> {
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({ eachBatchAutoResolve: false, autoCommit: true, eachBatch: handler })
}
