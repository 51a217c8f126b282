/**
 * The dead-letter step (BullMQ has none built in): a delivery that can never succeed (`poison`: no
 * contact, a render error, a refused webhook address) or that used every attempt on transient
 * failures (`exhausted`) goes to the `ntf-dead` queue with its kind and reason, and its delivery
 * record to `dead_lettered`. Nothing consumes `ntf-dead`: its jobs wait there until the replay
 * command (replay.ts) re-queues them, so "waiting in ntf-dead" = "dead letters nobody reviewed"
 * (the notifications_dead_letters gauge and the alert).
 */
import type { Queue } from 'bullmq'
import type { DeadLetterJobData } from '../queue/queues.ts'
import type { DeliveryRepository } from '../repositories/deliveries.ts'
import type { Channel } from '../types.ts'

export type DeadLetterKind = DeadLetterJobData['kind']

export interface DeadLetterSubject {
  deliveryId: string
  notificationId: string
  channel: Channel
  /** The delivery's attempts so far: a later dead-lettering of the same delivery (after a replay) is a new job. */
  attempts: number
}

/** The DLQ job's id: one per delivery and attempt count, so a run repeated after a crash adds nothing. */
export function deadLetterJobId(deliveryId: string, attempts: number): string {
  return `dead-${deliveryId}-${attempts}`
}

export class DeadLetters {
  readonly #queue: Queue<DeadLetterJobData>
  readonly #deliveries: Pick<DeliveryRepository, 'markDeadLettered'>
  readonly #now: () => number

  constructor(
    queue: Queue<DeadLetterJobData>,
    deliveries: Pick<DeliveryRepository, 'markDeadLettered'>,
    now: () => number = Date.now,
  ) {
    this.#queue = queue
    this.#deliveries = deliveries
    this.#now = now
  }

  get queue(): Queue<DeadLetterJobData> {
    return this.#queue
  }

  /**
   * Adds the dead letter, then marks the delivery. In this order so that a dead-lettered delivery
   * always has its DLQ job to replay: a crash in between leaves the delivery pending, its job runs
   * again and dead-letters it again (the replay skips a letter whose delivery is not dead_lettered).
   * Returns false when the delivery had already left its pending states.
   */
  async deadLetter(s: DeadLetterSubject, kind: DeadLetterKind, reason: string): Promise<boolean> {
    const data: DeadLetterJobData = {
      deliveryId: s.deliveryId,
      notificationId: s.notificationId,
      channel: s.channel,
      kind,
      reason,
      deadAt: new Date(this.#now()).toISOString(),
    }
    await this.#queue.add(kind, data, {
      jobId: deadLetterJobId(s.deliveryId, s.attempts),
      removeOnComplete: true,
      removeOnFail: false,
    })
    return this.#deliveries.markDeadLettered(s.deliveryId, kind, reason)
  }

  /** Dead letters waiting for review. */
  async waiting(): Promise<number> {
    return this.#queue.getJobCountByTypes('waiting', 'prioritized', 'delayed')
  }
}
