/**
 * Every Redis key and BullMQ name of the notification service, in one place.
 * Cache Redis (REDIS_URL): idempotency markers and the per-recipient rate limits.
 * Queue Redis (QUEUE_REDIS_URL): BullMQ queues `<QUEUE_PREFIX>:ntf-<channel>` and `ntf-dead`.
 */
import type { Channel } from './types.ts'

export class NotificationKeys {
  readonly prefix: string

  constructor(prefix: string) {
    this.prefix = prefix
  }

  /** `SET NX PX` while a request with this Idempotency-Key runs; value = the request's hash. */
  idempotencyInFlight(key: string): string {
    return `${this.prefix}:idem:${key}`
  }

  /** The `@faultline/ratelimit` prefix of the per-recipient, per-category limits. */
  get rateLimitPrefix(): string {
    return `${this.prefix}:rl`
  }

  /** The rate-limit key of one recipient and category (inside rateLimitPrefix). */
  rateLimitKey(recipientId: string, category: string): string {
    return `${recipientId}:${category}`
  }
}

/** The channel queue's name (BullMQ adds QUEUE_PREFIX in front). */
export function channelQueueName(channel: Channel): string {
  return `ntf-${channel}`
}

/** The dead-letter queue: jobs kept with their reason until replayed or discarded. */
export const deadLetterQueueName = 'ntf-dead'

/** A delivery's id, and its BullMQ job id (dedupe) and provider Idempotency-Key: deterministic. */
export function deliveryId(notificationId: string, channel: Channel): string {
  return `${notificationId}-${channel}`
}
