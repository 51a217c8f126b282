/**
 * The fan-out consumer: a kafkajs group on POSTS_TOPIC, `eachBatch`, offsets resolved and committed
 * by hand (autoCommit off), so where a worker resumes after a crash is decided here.
 *
 * - commitAfterFanout on (hardened, at-least-once): a message's offset is resolved after its event
 *   was applied to Redis, and committed every `commitEvery` messages and at the end of the batch.
 *   A worker killed mid-batch leaves the unapplied rest uncommitted; the partition's next owner
 *   applies it again, and the idempotent writes make the replay add nothing.
 * - off (naive, at-most-once, pm15): the whole batch's offsets are committed as it arrives,
 *   before any of it is applied — what a consumer with auto-commit on poll does. A worker killed
 *   mid-batch loses the deliveries it had not made yet: nobody will read those messages again.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { isRebalance } from '@faultline/kit/clients'
import { backoffDelayMs } from '@faultline/resilience'
import type { EachBatchPayload } from 'kafkajs'
import type { PostEvent } from '../types.ts'
import type { FanoutApplier } from './apply.ts'
import { parsePostEvent } from './event.ts'
import type { FanoutMetrics } from './metrics.ts'

export interface FanoutLog {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface FanoutHandlerOptions {
  applier: Pick<FanoutApplier, 'apply'>
  /** The live switches; commitAfterFanout is read per batch. */
  switches: { readonly current: { readonly commitAfterFanout: boolean } }
  /** Messages applied between two offset commits (FANOUT_BATCH_MAX). */
  commitEvery: number
  metrics: FanoutMetrics
  log: FanoutLog
  /** Backoff while Redis or Postgres fails. @default 100 / 5000 */
  retryBaseMs?: number
  retryCapMs?: number
}

export type FanoutBatchHandler = (payload: EachBatchPayload) => Promise<void>

export function createFanoutBatchHandler(o: FanoutHandlerOptions): FanoutBatchHandler {
  return async function eachBatch(payload) {
    const end = o.metrics.batchSeconds.startTimer()
    try {
      if (o.switches.current.commitAfterFanout) await applyThenCommit(o, payload)
      else await commitThenApply(o, payload)
    } finally {
      end()
    }
  }
}

/** Commits every offset resolved so far (autoCommit is off: nothing else commits them). */
function commitResolved(payload: EachBatchPayload): Promise<void> {
  return payload.commitOffsetsIfNecessary(payload.uncommittedOffsets())
}

async function applyThenCommit(o: FanoutHandlerOptions, payload: EachBatchPayload): Promise<void> {
  const { batch, resolveOffset, isRunning, isStale } = payload
  let sinceCommit = 0
  for (const message of batch.messages) {
    if (!isRunning() || isStale()) break
    const event = parsePostEvent(message.value)
    if (event) {
      // Stopped while retrying: the rest stays uncommitted for the partition's next owner.
      if (!(await applyWithRetry(o, payload, event))) break
    } else {
      o.metrics.invalid.inc()
    }
    resolveOffset(message.offset)
    if (++sinceCommit >= o.commitEvery) {
      await commitResolved(payload)
      sinceCommit = 0
    }
    // Throws when the group rebalances: kafkajs rejoins, and what was applied but not committed
    // is applied again by the partition's next owner (idempotently).
    await payload.heartbeat()
  }
  await commitResolved(payload)
}

async function commitThenApply(o: FanoutHandlerOptions, payload: EachBatchPayload): Promise<void> {
  const { batch, resolveOffset, isRunning, isStale } = payload
  for (const message of batch.messages) resolveOffset(message.offset)
  // The naive position: the batch counts as consumed before any delivery is made.
  await commitResolved(payload)
  for (const message of batch.messages) {
    if (!isRunning() || isStale()) break
    const event = parsePostEvent(message.value)
    if (event) {
      if (!(await applyWithRetry(o, payload, event))) break
    } else {
      o.metrics.invalid.inc()
    }
    await payload.heartbeat()
  }
}

/**
 * Applies one event, retrying with backoff (and heartbeating, so the group keeps the partition)
 * while Redis or Postgres fails; false when the consumer stops or loses the partition first.
 */
async function applyWithRetry(
  o: FanoutHandlerOptions,
  payload: EachBatchPayload,
  event: PostEvent,
): Promise<boolean> {
  const betweenPages = () => payload.heartbeat()
  for (let attempt = 0; ; attempt++) {
    try {
      await o.applier.apply(event, betweenPages)
      return true
    } catch (err) {
      if (isRebalance(err)) {
        // The group is rebalancing (a heartbeat between follower pages said so): retrying here
        // would keep this member inside eachBatch, unable to rejoin, and stall the whole group
        // until the rebalance times out. Leave at once and let kafkajs rejoin; the partition's
        // next owner applies this event and the uncommitted ones before it again (idempotently).
        // No commit on the way out: an offset commit in a rebalancing generation only fails.
        throw err
      }
      o.metrics.applyErrors.inc()
      if (attempt === 0 || attempt % 10 === 0) {
        o.log.warn({ err, attempt, postId: event.postId, type: event.type }, 'fan-out failed; retrying')
      }
      await sleep(
        backoffDelayMs(attempt, {
          backoff: 'equal-jitter',
          baseMs: o.retryBaseMs ?? 100,
          capMs: o.retryCapMs ?? 5000,
        }),
      )
      await payload.heartbeat().catch(() => {})
      if (!payload.isRunning() || payload.isStale()) return false
    }
  }
}
