/**
 * The notification service's BullMQ queues on the queue Redis: one per channel (`ntf-<channel>`,
 * so a slow provider backs up its own channel only) and the dead-letter queue `ntf-dead`. The
 * router adds jobs with `deliveryJobOptions`; the channel workers consume; both build the queues
 * here so the names, prefix and job options exist once.
 */
import { type JobsOptions, Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { channelQueueName, deadLetterQueueName } from '../keys.ts'
import { type Channel, channels, type DeliveryJobData, type Priority } from '../types.ts'

/** The dead-letter queue's job (added by the channel worker; read by the replay command). */
export interface DeadLetterJobData {
  deliveryId: string
  notificationId: string
  channel: Channel
  kind: 'poison' | 'exhausted'
  reason: string
  /** ISO 8601. */
  deadAt: string
}

export interface ChannelQueues {
  /** The queue of one channel. */
  channel: Record<Channel, Queue<DeliveryJobData>>
  dead: Queue<DeadLetterJobData>
  close(): Promise<void>
}

/**
 * Every queue of the service on one connection (an ioredis client made for BullMQ:
 * `maxRetriesPerRequest: null`). BullMQ shares the client for commands; closing the queues does
 * not close the caller's client.
 */
export function channelQueues(connection: Redis, prefix: string): ChannelQueues {
  const make = <T>(name: string) => new Queue<T>(name, { connection, prefix })
  const byChannel = Object.fromEntries(
    channels.map((c) => [c, make<DeliveryJobData>(channelQueueName(c))]),
  ) as Record<Channel, Queue<DeliveryJobData>>
  const dead = make<DeadLetterJobData>(deadLetterQueueName)
  return {
    channel: byChannel,
    dead,
    async close() {
      await Promise.all([...Object.values(byChannel), dead].map((q) => q.close()))
    },
  }
}

/** BullMQ priority: lower runs first; critical before normal before low. */
export function priorityOf(priority: Priority): number {
  return priority === 'critical' ? 1 : priority === 'normal' ? 2 : 3
}

export interface DeliveryJobOptionsInput {
  /** The delivery id: the job id, so a repeated enqueue of one delivery adds nothing while its job exists. */
  deliveryId: string
  /** A different job id (a dead letter's replay: `<deliveryId>-r<attempts>`). @default deliveryId */
  jobId?: string
  priority: Priority
  /** Held for quiet hours: heldUntil − now (0 or less = run now). */
  delayMs?: number
  /** JOB_ATTEMPTS. */
  attempts: number
}

export const completedJobsKept = { age: 3_600, count: 10_000 }
export const failedJobsKept = { age: 7 * 86_400, count: 10_000 }

/**
 * A delivery job's options. Backoff `jitter` is the channel worker's `backoffStrategy` (full
 * jitter from @faultline/resilience, at least a 429's Retry-After). Completed jobs are kept an hour
 * and at most 10 000 per queue, so a redelivered event's re-enqueue usually finds the id and adds
 * nothing — and when it does not, the new job finds its delivery already sent and skips it (the
 * delivery record is the dedupe, not the job). Failed jobs are kept a week, at most 10 000 (the
 * dead-letter queue is the record of what was given up). Retention is memory in a Redis that must
 * never fill: 100 000 completed jobs per queue (≈ 1.2 KB each) was most of the queue Redis's 256 MB.
 */
export function deliveryJobOptions(o: DeliveryJobOptionsInput): JobsOptions {
  const delay = Math.max(0, Math.ceil(o.delayMs ?? 0))
  return {
    jobId: o.jobId ?? o.deliveryId,
    priority: priorityOf(o.priority),
    ...(delay > 0 ? { delay } : {}),
    attempts: o.attempts,
    backoff: { type: 'jitter' },
    removeOnComplete: completedJobsKept,
    removeOnFail: failedJobsKept,
  }
}
