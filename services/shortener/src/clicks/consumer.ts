import { setTimeout as sleep } from 'node:timers/promises'
import type { Consumer, EachBatchPayload } from 'kafkajs'
import type { WorkerMetrics } from '../metrics.ts'
import type { ApplyResult, ClickRepository } from '../repositories/clicks.ts'
import type { ClickEvent } from './spool.ts'

export interface Log {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const possibleCode = /^[A-Za-z0-9_-]{1,32}$/

/** A Kafka message value as a click event, or undefined when it is not one (skipped and counted). */
export function parseClickEvent(value: Buffer | null): ClickEvent | undefined {
  if (!value) return undefined
  try {
    const v = JSON.parse(value.toString('utf8')) as Partial<ClickEvent>
    if (typeof v.eventId !== 'string' || !uuidPattern.test(v.eventId)) return undefined
    if (typeof v.code !== 'string' || !possibleCode.test(v.code)) return undefined
    if (typeof v.ts !== 'number' || !Number.isFinite(v.ts)) return undefined
    return { eventId: v.eventId, code: v.code, ts: v.ts }
  } catch {
    return undefined
  }
}

export function encodeClickEvent(event: ClickEvent): { key: string; value: string } {
  // Keyed by code: one code's clicks land on one partition, so one worker aggregates them.
  return { key: event.code, value: JSON.stringify(event) }
}

export interface ClickBatchHandlerOptions {
  clicks: Pick<ClickRepository, 'applyBatch'>
  metrics: WorkerMetrics
  log: Log
  /** Events per Postgres statement. */
  chunkSize?: number
  retryBaseMs?: number
  retryMaxMs?: number
}

/**
 * kafkajs `eachBatch`: applies a partition's batch to Postgres in chunks, each chunk one
 * idempotent statement (ClickRepository.applyBatch), and resolves the offset of a chunk only
 * after Postgres committed it. When Postgres is down it retries the same chunk with backoff,
 * heartbeating so the group keeps the partition, until Postgres is back or the consumer stops;
 * nothing is skipped. A crash between the commit in Postgres and the offset commit in Kafka
 * replays the chunk, and the event ids make the replay count zero.
 */
export function createClickBatchHandler(o: ClickBatchHandlerOptions) {
  const chunkSize = o.chunkSize ?? 1000
  const baseMs = o.retryBaseMs ?? 200
  const maxMs = o.retryMaxMs ?? 5000

  return async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload
    let chunk: ClickEvent[] = []
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
      chunkLastOffset = undefined
    }
    const applyWithRetry = async (events: ClickEvent[]): Promise<ApplyResult | undefined> => {
      for (let attempt = 0; ; attempt++) {
        if (!isRunning() || isStale()) return undefined
        try {
          const result = await o.clicks.applyBatch(events)
          o.metrics.batches.inc()
          o.metrics.counted.inc(result.counted)
          o.metrics.duplicates.inc(result.duplicates)
          return result
        } catch (err) {
          o.metrics.applyErrors.inc()
          if (attempt === 0 || attempt % 10 === 0) {
            o.log.warn({ err, attempt, events: events.length }, 'applying clicks failed; retrying')
          }
          const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 16))
          await sleep(cap / 2 + (Math.random() * cap) / 2)
          await heartbeat().catch(() => {})
        }
      }
    }

    for (const message of batch.messages) {
      if (!isRunning() || isStale()) break
      o.metrics.consumed.inc()
      const event = parseClickEvent(message.value)
      if (event) chunk.push(event)
      else o.metrics.invalid.inc()
      chunkLastOffset = message.offset
      if (chunk.length >= chunkSize) {
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
