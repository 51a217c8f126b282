/**
 * Routes a chunk of notification events: decides each event's deliveries (decide.ts), inserts
 * them in one statement, then enqueues every delivery of the chunk whose STORED status is queued
 * or held. Safe to run again on the same events (a redelivery after a crash or a rebalance, a
 * retry after a failure): an event whose deliveries exist is not decided again (no second
 * rate-limit unit, no second row), and the re-enqueue is a no-op while the job exists (the
 * channel worker's claim guards the rest).
 */
import { deliveryId } from '../keys.ts'
import type { ChannelQueues } from '../queue/queues.ts'
import type { DeliveryRepository, NewDelivery } from '../repositories/deliveries.ts'
import type { RecipientRepository } from '../repositories/recipients.ts'
import { type TemplateRepository, templateChannelsOf } from '../repositories/templates.ts'
import type { Channel, Notification, NotificationEvent, Priority, Recipient } from '../types.ts'
import { type DecideInput, decide, needsRateLimit } from './decide.ts'
import { enqueueDeliveries, type PendingDelivery } from './enqueue.ts'
import type { RouterMetrics } from './metrics.ts'
import type { RecipientRateLimit } from './rate-limit.ts'

interface Queryable {
  query<R extends object>(text: string, values?: unknown[]): Promise<{ rows: R[] }>
}

export interface EventRouterOptions {
  /** The primary (search_path on the service's schema). */
  db: Queryable
  deliveries: Pick<DeliveryRepository, 'createMany'>
  recipients: Pick<RecipientRepository, 'get'>
  templates: Pick<TemplateRepository, 'get'>
  rateLimit: Pick<RecipientRateLimit, 'allow'>
  queues: ChannelQueues
  /** The live switches; ttlCheck is read per chunk. */
  switches: { readonly current: { readonly ttlCheck: boolean } }
  /** JOB_ATTEMPTS. */
  jobAttempts: number
  metrics: Pick<RouterMetrics, 'routed'>
  /** @default Date.now */
  now?: () => number
}

export interface RouteResult {
  /** Delivery rows this call inserted. */
  created: number
  /** Jobs handed to BullMQ (including no-ops for jobs already there). */
  enqueued: number
  /** Events whose notification is not in Postgres (skipped: there is nothing to deliver). */
  unknown: number
}

export class EventRouter {
  readonly #o: EventRouterOptions
  readonly #now: () => number

  constructor(o: EventRouterOptions) {
    this.#o = o
    this.#now = o.now ?? Date.now
  }

  async route(events: readonly NotificationEvent[]): Promise<RouteResult> {
    const byId = new Map<string, Notification>()
    for (const e of events) byId.set(e.notification.id, e.notification)
    if (byId.size === 0) return { created: 0, enqueued: 0, unknown: 0 }
    const ids = [...byId.keys()]

    const { known, routed } = await this.#state(ids)
    const toDecide = [...byId.values()].filter((n) => known.has(n.id) && !routed.has(n.id))
    const rows = await this.#decideAll(toDecide)
    const inserted = await this.#o.deliveries.createMany(rows)
    for (const r of rows) {
      if (inserted.has(r.id))
        this.#o.metrics.routed.inc({ channel: r.channel, outcome: r.status, reason: r.reason ?? 'none' })
    }

    const pending = await this.#pending(ids, byId)
    const enqueued = await enqueueDeliveries(this.#o.queues, pending, {
      attempts: this.#o.jobAttempts,
      nowMs: this.#now(),
    })
    return { created: inserted.size, enqueued, unknown: ids.length - known.size }
  }

  /**
   * The delivery rows of the events to decide. Recipients and templates are read concurrently;
   * the limiter is asked one event after another per recipient, in the events' order (their
   * partition's order), so the earliest notifications get the quota.
   */
  async #decideAll(notifications: Notification[]): Promise<NewDelivery[]> {
    const recipients = new Map<string, Promise<Recipient | null>>()
    for (const n of notifications) {
      if (!recipients.has(n.recipientId)) recipients.set(n.recipientId, this.#o.recipients.get(n.recipientId))
    }
    const inputs = await Promise.all(
      notifications.map((n) => this.#inputOf(n, recipients.get(n.recipientId) as Promise<Recipient | null>)),
    )
    const byRecipient = new Map<string, number[]>()
    notifications.forEach((n, i) => {
      byRecipient.set(n.recipientId, [...(byRecipient.get(n.recipientId) ?? []), i])
    })
    const rows: NewDelivery[][] = []
    await Promise.all(
      [...byRecipient.values()].map(async (indexes) => {
        for (const i of indexes)
          rows[i] = await this.#decideOne(inputs[i] as DecideInput & { notification: Notification })
      }),
    )
    return rows.flat()
  }

  async #inputOf(
    n: Notification,
    recipient: Promise<Recipient | null>,
  ): Promise<DecideInput & { notification: Notification }> {
    const template = await this.#o.templates.get(n.template)
    return {
      notification: n,
      templateChannels: template ? templateChannelsOf(template) : null,
      recipient: await recipient,
      nowMs: this.#now(),
      ttlCheck: this.#o.switches.current.ttlCheck,
    }
  }

  /** One event's delivery rows (asks the rate limiter at most once). */
  async #decideOne(input: DecideInput & { notification: Notification }): Promise<NewDelivery[]> {
    const n = input.notification
    const allowed = needsRateLimit(input) ? await this.#o.rateLimit.allow(n.recipientId, n.category) : true
    return decide(input, allowed).map((d) => ({
      id: deliveryId(n.id, d.channel),
      notificationId: n.id,
      channel: d.channel,
      status: d.status,
      reason: d.reason,
      heldUntil: d.heldUntilMs === null ? null : new Date(d.heldUntilMs),
    }))
  }

  /**
   * Which of `ids` exist as notifications, and which of those were routed already (their
   * deliveries are inserted in one statement, so one row means all).
   */
  async #state(ids: string[]): Promise<{ known: Set<string>; routed: Set<string> }> {
    const { rows } = await this.#o.db.query<{ id: string; routed: boolean }>(
      `SELECT n.id::text AS id, EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id) AS routed
       FROM notifications n WHERE n.id = ANY($1::uuid[])`,
      [ids],
    )
    return {
      known: new Set(rows.map((r) => r.id)),
      routed: new Set(rows.filter((r) => r.routed).map((r) => r.id)),
    }
  }

  /** The chunk's deliveries whose stored status is queued or held: the ones that need a job. */
  async #pending(ids: string[], byId: Map<string, Notification>): Promise<PendingDelivery[]> {
    const { rows } = await this.#o.db.query<{
      id: string
      notification_id: string
      channel: Channel
      held_until: Date | null
    }>(
      `SELECT id, notification_id::text AS notification_id, channel, held_until FROM deliveries
       WHERE notification_id = ANY($1::uuid[]) AND status IN ('queued', 'held')`,
      [ids],
    )
    return rows.map((r) => ({
      id: r.id,
      notificationId: r.notification_id,
      channel: r.channel,
      priority: (byId.get(r.notification_id)?.priority ?? 'normal') as Priority,
      heldUntilMs: r.held_until ? r.held_until.getTime() : null,
    }))
  }
}
