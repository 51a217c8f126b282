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
import { ensureTopic } from '@faultline/kit/clients'
import { backoffDelayMs, retry } from '@faultline/resilience'
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs'
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

/** kafkajs protocol errors that mean "this member must rejoin the group", not "the apply failed". */
const rebalanceErrorTypes = new Set([
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'NOT_COORDINATOR_FOR_GROUP',
  'NOT_COORDINATOR',
  'FENCED_INSTANCE_ID',
])

export function isRebalance(err: unknown): boolean {
  const type = (err as { type?: unknown } | null)?.type
  return typeof type === 'string' && rebalanceErrorTypes.has(type)
}

/**
 * The group member. A 10 s session (kafkajs' default is 30 s) moves a killed worker's partitions to
 * the survivors sooner; the fan-out heartbeats between follower pages, so a long celebrity push
 * does not overrun it.
 */
export function createFanoutConsumer(kafka: Kafka, groupId: string, log: FanoutLog): Consumer {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
    // Restart after the run loop crashes (the broker went away) instead of staying down.
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5000 },
  })
  consumer.on(consumer.events.CRASH, (event) =>
    log.error({ err: event.payload.error, restart: event.payload.restart }, 'fan-out consumer crashed'),
  )
  return consumer
}

export interface StartFanoutOptions {
  kafka: Kafka
  consumer: Consumer
  topic: string
  partitions: number
  handler: FanoutBatchHandler
  log: FanoutLog
  signal?: AbortSignal
}

/**
 * Waits for Kafka (a worker started before the broker waits instead of exiting), makes sure the
 * topic exists, joins the group and starts consuming from the earliest offset the group has not
 * committed (from the beginning for a new group: no event published before it joined is skipped).
 */
export async function startFanoutConsumer(o: StartFanoutOptions): Promise<void> {
  await retry(
    async () => {
      await ensureTopic(o.kafka, o.topic, o.partitions)
      await o.consumer.connect()
    },
    {
      maxAttempts: Number.POSITIVE_INFINITY,
      baseMs: 500,
      capMs: 10_000,
      ...(o.signal ? { signal: o.signal } : {}),
      onAttempt: ({ outcome, error, delayMs }) => {
        if (outcome === 'failure' && delayMs !== undefined)
          o.log.warn({ err: error, retryInMs: Math.round(delayMs) }, 'Kafka not reachable yet, retrying')
      },
    },
  )
  await o.consumer.subscribe({ topic: o.topic, fromBeginning: true })
  await o.consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: o.handler })
}
