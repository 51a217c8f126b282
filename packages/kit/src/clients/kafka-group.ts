/**
 * A Kafka consumer-group member the way every Faultline consumer runs one (the feed's fan-out, the
 * notification router): manual commits after the batch's effect is done (at-least-once), a short
 * session so a dead member's partitions move soon, kafkajs' run loop restarted after a crash
 * instead of staying down, and a start that waits for Kafka.
 */
import type { Consumer, EachBatchHandler, Kafka } from 'kafkajs'
import { type ReachableLog, whenReachable } from '../reachable.ts'
import { ensureTopic } from './kafka.ts'

export interface GroupConsumerOptions {
  groupId: string
  /** A member silent this long leaves the group. @default 10 000 (kafkajs' default is 30 s) */
  sessionTimeoutMs?: number
  /** @default 1000 */
  heartbeatIntervalMs?: number
  /** Names the consumer in the crash log ("fan-out", "router"). */
  name: string
}

export interface GroupConsumerLog extends ReachableLog {
  error(obj: object, msg: string): void
}

export function createGroupConsumer(kafka: Kafka, o: GroupConsumerOptions, log: GroupConsumerLog): Consumer {
  const consumer = kafka.consumer({
    groupId: o.groupId,
    sessionTimeout: o.sessionTimeoutMs ?? 10_000,
    heartbeatInterval: o.heartbeatIntervalMs ?? 1000,
    // Restart after the run loop crashes (the broker went away) instead of staying down.
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5000 },
  })
  consumer.on(consumer.events.CRASH, (event) =>
    log.error({ err: event.payload.error, restart: event.payload.restart }, `${o.name} consumer crashed`),
  )
  return consumer
}

export interface StartGroupConsumerOptions {
  kafka: Kafka
  consumer: Consumer
  topic: string
  /** Partitions when the topic has to be created. */
  partitions: number
  eachBatch: EachBatchHandler
  log: ReachableLog
  signal?: AbortSignal
}

/**
 * Waits for Kafka, makes sure the topic exists, joins the group and consumes from the earliest
 * offset the group has not committed (from the beginning for a new group: nothing published
 * before it joined is skipped). Offsets are the handler's to resolve and commit.
 */
export async function startGroupConsumer(o: StartGroupConsumerOptions): Promise<void> {
  await whenReachable(
    'Kafka',
    async () => {
      await ensureTopic(o.kafka, o.topic, o.partitions)
      await o.consumer.connect()
    },
    { log: o.log, ...(o.signal ? { signal: o.signal } : {}) },
  )
  await o.consumer.subscribe({ topic: o.topic, fromBeginning: true })
  await o.consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: o.eachBatch })
}

/** kafkajs protocol errors that mean "this member must rejoin the group", not "the handler failed". */
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
