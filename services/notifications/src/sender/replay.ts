/**
 * Replays the dead-letter queue, idempotently: for each dead letter, the delivery goes back to
 * `queued` (DeliveryRepository.requeueDeadLetter: only a delivery still dead-lettered moves), a new
 * channel job `<deliveryId>-r<attempts>` is added (a new id: the original job id may still be
 * held by its completed job, which would swallow the add), and the dead letter is removed.
 *
 * Replaying twice re-queues once: the second run finds the letter gone, or (if the first run died
 * between the requeue and the removal) a delivery no longer dead-lettered — then it adds the same
 * deterministic job id again, which BullMQ ignores while that job exists, so a crash cannot lose
 * the replay nor double it.
 */
import type { Job } from 'bullmq'
import type { ChannelQueues, DeadLetterJobData } from '../queue/queues.ts'
import { deliveryJobOptions } from '../queue/queues.ts'
import type { DeliveryRepository } from '../repositories/deliveries.ts'
import type { Priority } from '../types.ts'

export interface ReplayOptions {
  queues: Pick<ChannelQueues, 'channel' | 'dead'>
  deliveries: Pick<DeliveryRepository, 'requeueDeadLetter' | 'get'>
  /** The notification's priority, for the replayed job's priority. */
  priorityOf(notificationId: string): Promise<Priority>
  /** JOB_ATTEMPTS: a replayed delivery gets a full set of attempts again. */
  attempts: number
  /** Only these kinds (default both). */
  kinds?: ReadonlyArray<DeadLetterJobData['kind']>
  /** At most this many letters (default all). */
  limit?: number
}

export interface ReplayReport {
  /** Deliveries moved back to queued with a new job. */
  requeued: number
  /** Letters whose delivery had already been replayed (a crashed run): job re-added, no double. */
  resumed: number
  /** Letters whose delivery is neither dead-lettered nor queued (sent since, …): removed only. */
  stale: number
  /** Letters left in the queue (kind filtered out). */
  kept: number
}

/** The replayed job's id: deterministic, so adding it twice adds it once. */
export function replayJobId(deliveryId: string, attempts: number): string {
  return `${deliveryId}-r${attempts}`
}

export async function replayDeadLetters(o: ReplayOptions): Promise<ReplayReport> {
  const report: ReplayReport = { requeued: 0, resumed: 0, stale: 0, kept: 0 }
  const limit = o.limit ?? Number.POSITIVE_INFINITY
  const pageSize = 100
  let offset = 0
  let done = 0
  while (done < limit) {
    const page = await o.queues.dead.getJobs(
      ['waiting', 'prioritized', 'delayed'],
      offset,
      offset + pageSize - 1,
      true,
    )
    if (page.length === 0) break
    for (const letter of page) {
      if (done >= limit) break
      if (o.kinds && !o.kinds.includes(letter.data.kind)) {
        report.kept++
        offset++
        continue
      }
      const outcome = await replayOne(o, letter)
      report[outcome]++
      done++
    }
  }
  return report
}

async function replayOne(
  o: ReplayOptions,
  letter: Job<DeadLetterJobData>,
): Promise<'requeued' | 'resumed' | 'stale'> {
  const { deliveryId, notificationId, channel } = letter.data
  const requeued = await o.deliveries.requeueDeadLetter(deliveryId)
  const delivery = await o.deliveries.get(deliveryId)
  const pending = delivery !== null && delivery.status === 'queued'
  if (delivery && pending) {
    await o.queues.channel[channel].add(
      channel,
      { deliveryId, notificationId, channel },
      deliveryJobOptions({
        deliveryId,
        jobId: replayJobId(deliveryId, delivery.attempts),
        priority: await o.priorityOf(notificationId),
        attempts: o.attempts,
      }),
    )
  }
  await letter.remove()
  if (requeued) return 'requeued'
  return pending ? 'resumed' : 'stale'
}

/** The priority of a notification, read from Postgres (poison letters may outlive nothing else). */
export function notificationPriority(db: {
  query<R>(sql: string, params: unknown[]): Promise<{ rows: R[] }>
}): (notificationId: string) => Promise<Priority> {
  return async (id) => {
    const { rows } = await db.query<{ priority: Priority }>(
      'SELECT priority FROM notifications WHERE id = $1',
      [id],
    )
    return rows[0]?.priority ?? 'normal'
  }
}
