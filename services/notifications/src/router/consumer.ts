/**
 * The router's Kafka side: a consumer group (ROUTER_GROUP_ID) on NOTIFICATIONS_TOPIC, `eachBatch`,
 * offsets resolved and committed by hand (autoCommit off). A batch is routed in chunks; a chunk's
 * offsets are committed only after its deliveries are inserted AND their jobs are on the queues,
 * so a router killed or stopped mid-batch leaves the rest uncommitted and the partition's next
 * owner routes it again (route.ts makes that replay add nothing). At-least-once in, exactly one
 * delivery row and job id per (notification, channel) out.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { backoffDelayMs } from '@faultline/resilience'
import type { EachBatchPayload, KafkaMessage } from 'kafkajs'
import { channels, type NotificationEvent, priorities } from '../types.ts'
import type { QueueBackpressure } from './backpressure.ts'
import type { RouterMetrics } from './metrics.ts'
import type { EventRouter } from './route.ts'

export interface RouterLog {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The message as a NotificationEvent, or null when it is not one (skipped and counted). */
export function parseNotificationEvent(value: Buffer | null): NotificationEvent | null {
  if (!value) return null
  let e: unknown
  try {
    e = JSON.parse(value.toString('utf8'))
  } catch {
    return null
  }
  const n = (e as { type?: unknown; notification?: Record<string, unknown> } | null)?.notification
  if ((e as { type?: unknown }).type !== 'notification_accepted' || !n || typeof n !== 'object') return null
  const ok =
    typeof n.id === 'string' &&
    uuid.test(n.id) &&
    typeof n.recipientId === 'string' &&
    typeof n.template === 'string' &&
    typeof n.category === 'string' &&
    (priorities as readonly unknown[]).includes(n.priority) &&
    typeof n.expiresAt === 'string' &&
    (n.channels === null ||
      n.channels === undefined ||
      (Array.isArray(n.channels) && n.channels.every((c) => (channels as readonly unknown[]).includes(c))))
  return ok ? (e as NotificationEvent) : null
}

export interface RouterHandlerOptions {
  router: Pick<EventRouter, 'route'>
  /** Events routed (and committed) together. */
  chunkSize: number
  metrics: Pick<RouterMetrics, 'invalid' | 'routeErrors' | 'batchSeconds'>
  log: RouterLog
  /** Waits while the channel queues are over their high-water mark (the backlog stays in Kafka). */
  backpressure?: Pick<QueueBackpressure, 'room'>
  /** Backoff while Postgres or the queue Redis fails. @default 100 / 5000 */
  retryBaseMs?: number
  retryCapMs?: number
}

export type RouterBatchHandler = (payload: EachBatchPayload) => Promise<void>

export function createRouterBatchHandler(o: RouterHandlerOptions): RouterBatchHandler {
  return async function eachBatch(payload) {
    const { batch, resolveOffset, isRunning, isStale } = payload
    for (let i = 0; i < batch.messages.length; i += o.chunkSize) {
      if (!isRunning() || isStale()) return
      if (o.backpressure && !(await o.backpressure.room(() => isRunning() && !isStale(), payload.heartbeat)))
        return
      const chunk = batch.messages.slice(i, i + o.chunkSize)
      const events = parseChunk(chunk, o)
      const end = o.metrics.batchSeconds.startTimer()
      // Stopped while retrying: this chunk and the rest stay uncommitted for the next owner.
      const routed = await routeWithRetry(o, payload, events)
      end()
      if (!routed) return
      resolveOffset((chunk[chunk.length - 1] as KafkaMessage).offset)
      await payload.commitOffsetsIfNecessary(payload.uncommittedOffsets())
      // Throws when the group rebalances: kafkajs rejoins; what is uncommitted is routed again.
      await payload.heartbeat()
    }
  }
}

function parseChunk(messages: KafkaMessage[], o: RouterHandlerOptions): NotificationEvent[] {
  const events: NotificationEvent[] = []
  for (const m of messages) {
    const e = parseNotificationEvent(m.value)
    if (e) events.push(e)
    else {
      o.metrics.invalid.inc()
      o.log.warn({ offset: m.offset }, 'skipping a message that is no notification event')
    }
  }
  return events
}

/**
 * Routes a chunk, retrying with backoff (and heartbeating, so the group keeps the partition) while
 * Postgres or the queue Redis fails; false when the consumer stops or loses the partition first.
 */
async function routeWithRetry(
  o: RouterHandlerOptions,
  payload: EachBatchPayload,
  events: NotificationEvent[],
): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await o.router.route(events)
      if (r.unknown > 0) o.log.warn({ unknown: r.unknown }, 'events of notifications not in Postgres skipped')
      return true
    } catch (err) {
      o.metrics.routeErrors.inc()
      if (attempt === 0 || attempt % 10 === 0) {
        o.log.warn({ err, attempt, events: events.length }, 'routing failed; retrying')
      }
      await sleep(
        backoffDelayMs(attempt, {
          backoff: 'equal-jitter',
          baseMs: o.retryBaseMs ?? 100,
          capMs: o.retryCapMs ?? 5000,
        }),
      )
      // A rebalance surfaces here: leave at once and let kafkajs rejoin (nothing was committed).
      await payload.heartbeat()
      if (!payload.isRunning() || payload.isStale()) return false
    }
  }
}
