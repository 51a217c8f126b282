/**
 * Puts routed deliveries on their channel queues. The job id is the delivery id, so enqueuing a
 * delivery whose job still exists (a redelivered event, a retried chunk) adds nothing; one
 * `addBulk` per channel queue per chunk.
 */
import type { ChannelQueues } from '../queue/queues.ts'
import { deliveryJobOptions } from '../queue/queues.ts'
import type { Channel, DeliveryJobData, Priority } from '../types.ts'

/** A stored delivery waiting for its job: status queued or held. */
export interface PendingDelivery {
  id: string
  notificationId: string
  channel: Channel
  priority: Priority
  /** Held: when the quiet hours end (ms since the epoch); null = run now. */
  heldUntilMs: number | null
}

export interface EnqueueOptions {
  /** JOB_ATTEMPTS. */
  attempts: number
  nowMs: number
}

/** Adds one job per delivery (no-op for a job id already present); returns how many were sent to BullMQ. */
export async function enqueueDeliveries(
  queues: ChannelQueues,
  deliveries: readonly PendingDelivery[],
  o: EnqueueOptions,
): Promise<number> {
  const byChannel = new Map<Channel, PendingDelivery[]>()
  for (const d of deliveries) {
    const list = byChannel.get(d.channel) ?? []
    list.push(d)
    byChannel.set(d.channel, list)
  }
  await Promise.all(
    [...byChannel].map(([channel, list]) =>
      queues.channel[channel].addBulk(
        list.map((d) => ({
          name: channel,
          data: { deliveryId: d.id, notificationId: d.notificationId, channel } satisfies DeliveryJobData,
          opts: deliveryJobOptions({
            deliveryId: d.id,
            priority: d.priority,
            delayMs: d.heldUntilMs === null ? 0 : d.heldUntilMs - o.nowMs,
            attempts: o.attempts,
          }),
        })),
      ),
    ),
  )
  return deliveries.length
}
