/**
 * The delivery records: one row per (notification, channel), the truth about what was sent. Every
 * state change is a conditional UPDATE, so two runs of one job (a stall, a kill, a redelivery)
 * cannot both move a delivery, and nothing moves a delivery out of a terminal state.
 */
import type pg from 'pg'
import type { Channel, DeliveryStatus, Notification, Priority } from '../types.ts'

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>

/** States a channel worker may claim: still pending. `sending` = a run that died mid-send. */
export const claimableStatuses: readonly DeliveryStatus[] = ['queued', 'held', 'failed', 'sending']

export interface NewDelivery {
  id: string
  notificationId: string
  channel: Channel
  status: 'queued' | 'held' | 'suppressed' | 'expired'
  reason?: string | null
  heldUntil?: Date | null
}

export interface Delivery {
  id: string
  notificationId: string
  channel: Channel
  status: DeliveryStatus
  reason: string | null
  deadLetterKind: 'poison' | 'exhausted' | null
  attempts: number
  sends: number
  provider: string | null
  providerMessageId: string | null
  heldUntil: string | null
  createdAt: string
  updatedAt: string
  sentAt: string | null
}

/** A claimed delivery with what the worker needs to send it. */
export interface ClaimedDelivery extends Delivery {
  notification: Notification
}

interface DeliveryRow {
  id: string
  notification_id: string
  channel: Channel
  status: DeliveryStatus
  reason: string | null
  dead_letter_kind: 'poison' | 'exhausted' | null
  attempts: number
  sends: number
  provider: string | null
  provider_message_id: string | null
  held_until: Date | null
  created_at: Date
  updated_at: Date
  sent_at: Date | null
}

interface ClaimedRow extends DeliveryRow {
  recipient_id: string
  template: string
  data: Record<string, unknown>
  channels: Channel[] | null
  category: string
  priority: Priority
  n_created_at: Date
  expires_at: Date
}

const columns = `d.id, d.notification_id::text AS notification_id, d.channel, d.status, d.reason,
  d.dead_letter_kind, d.attempts, d.sends, d.provider, d.provider_message_id, d.held_until,
  d.created_at, d.updated_at, d.sent_at`

function toDelivery(r: DeliveryRow): Delivery {
  return {
    id: r.id,
    notificationId: r.notification_id,
    channel: r.channel,
    status: r.status,
    reason: r.reason,
    deadLetterKind: r.dead_letter_kind,
    attempts: r.attempts,
    sends: r.sends,
    provider: r.provider,
    providerMessageId: r.provider_message_id,
    heldUntil: r.held_until?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    sentAt: r.sent_at?.toISOString() ?? null,
  }
}

export class DeliveryRepository {
  readonly #db: Queryable

  constructor(db: Queryable) {
    this.#db = db
  }

  /**
   * Inserts the deliveries the router decided; rows that already exist (the event redelivered)
   * are left as they are. Returns the ids this call inserted.
   */
  async createMany(rows: NewDelivery[]): Promise<Set<string>> {
    if (rows.length === 0) return new Set()
    const { rows: inserted } = await this.#db.query<{ id: string }>(
      `INSERT INTO deliveries (id, notification_id, channel, status, reason, held_until)
       SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
       ON CONFLICT (id) DO NOTHING
       RETURNING id`,
      [
        rows.map((r) => r.id),
        rows.map((r) => r.notificationId),
        rows.map((r) => r.channel),
        rows.map((r) => r.status),
        rows.map((r) => r.reason ?? null),
        rows.map((r) => r.heldUntil ?? null),
      ],
    )
    return new Set(inserted.map((r) => r.id))
  }

  /**
   * Claims a delivery for one send attempt: `sending`, attempts + 1. With `onlyPending` (the
   * deliveryRecord switch) only a pending delivery is claimed and null means "already terminal:
   * do not send"; without it any delivery is claimed (the naive worker sends whatever it runs).
   * Null too when the delivery does not exist.
   */
  async claim(id: string, onlyPending: boolean): Promise<ClaimedDelivery | null> {
    const { rows } = await this.#db.query<ClaimedRow>(
      `WITH c AS (
         UPDATE deliveries SET status = 'sending', attempts = attempts + 1, reason = NULL, updated_at = now()
         WHERE id = $1 AND ($2::boolean IS FALSE OR status = ANY($3::text[]))
         RETURNING *
       )
       SELECT ${columns}, n.recipient_id, n.template, n.data, n.channels, n.category, n.priority,
              n.created_at AS n_created_at, n.expires_at
       FROM c d JOIN notifications n ON n.id = d.notification_id`,
      [id, onlyPending, claimableStatuses],
    )
    const r = rows[0]
    if (!r) return null
    return {
      ...toDelivery(r),
      notification: {
        id: r.notification_id,
        recipientId: r.recipient_id,
        template: r.template,
        data: r.data,
        channels: r.channels,
        category: r.category,
        priority: r.priority,
        createdAt: r.n_created_at.toISOString(),
        expiresAt: r.expires_at.toISOString(),
      },
    }
  }

  /** The provider accepted it: `sent` (sends + 1 even when it was already sent: naive repeats are counted). */
  async markSent(id: string, provider: string, providerMessageId: string | null): Promise<void> {
    await this.#db.query(
      `UPDATE deliveries SET status = 'sent', sends = sends + 1, provider = $2, provider_message_id = $3,
         reason = NULL, sent_at = coalesce(sent_at, now()), updated_at = now()
       WHERE id = $1`,
      [id, provider, providerMessageId],
    )
  }

  /** A transient failure; the queue retries it. Only a delivery still `sending` moves. */
  async markFailed(id: string, reason: string): Promise<boolean> {
    return this.#move(id, 'failed', reason, ['sending'])
  }

  /** Past its TTL: never sent. */
  async markExpired(id: string, reason: string): Promise<boolean> {
    return this.#move(id, 'expired', reason, claimableStatuses)
  }

  /** Suppressed at send time (e.g. the webhook URL now resolves to a refused address). */
  async markSuppressed(id: string, reason: string): Promise<boolean> {
    return this.#move(id, 'suppressed', reason, claimableStatuses)
  }

  /** Given up: `poison` (can never succeed) or `exhausted` (attempts used on transient failures). */
  async markDeadLettered(id: string, kind: 'poison' | 'exhausted', reason: string): Promise<boolean> {
    const { rowCount } = await this.#db.query(
      `UPDATE deliveries SET status = 'dead_lettered', dead_letter_kind = $2, reason = $3, updated_at = now()
       WHERE id = $1 AND status = ANY($4::text[])`,
      [id, kind, reason, claimableStatuses],
    )
    return rowCount === 1
  }

  /**
   * A dead letter replayed: back to `queued` (attempts kept for the record). Only a delivery still
   * dead-lettered moves, so replaying twice re-queues once.
   */
  async requeueDeadLetter(id: string): Promise<boolean> {
    const { rowCount } = await this.#db.query(
      `UPDATE deliveries SET status = 'queued', dead_letter_kind = NULL, reason = 'replayed', updated_at = now()
       WHERE id = $1 AND status = 'dead_lettered'`,
      [id],
    )
    return rowCount === 1
  }

  async get(id: string): Promise<Delivery | null> {
    const { rows } = await this.#db.query<DeliveryRow>(
      `SELECT ${columns} FROM deliveries d WHERE d.id = $1`,
      [id],
    )
    return rows[0] ? toDelivery(rows[0]) : null
  }

  async listForNotification(notificationId: string): Promise<Delivery[]> {
    const { rows } = await this.#db.query<DeliveryRow>(
      `SELECT ${columns} FROM deliveries d WHERE d.notification_id = $1 ORDER BY d.channel`,
      [notificationId],
    )
    return rows.map(toDelivery)
  }

  /** Deliveries per status: the balance `accepted = sent + dead_lettered + expired + suppressed + in flight`. */
  async countByStatus(): Promise<Record<DeliveryStatus, number>> {
    const { rows } = await this.#db.query<{ status: DeliveryStatus; n: string }>(
      'SELECT status, count(*) AS n FROM deliveries GROUP BY status',
    )
    const counts = {
      queued: 0,
      held: 0,
      sending: 0,
      failed: 0,
      sent: 0,
      dead_lettered: 0,
      expired: 0,
      suppressed: 0,
    } satisfies Record<DeliveryStatus, number>
    for (const r of rows) counts[r.status] = Number(r.n)
    return counts
  }

  async #move(
    id: string,
    to: DeliveryStatus,
    reason: string,
    from: readonly DeliveryStatus[],
  ): Promise<boolean> {
    const { rowCount } = await this.#db.query(
      `UPDATE deliveries SET status = $2, reason = $3, updated_at = now() WHERE id = $1 AND status = ANY($4::text[])`,
      [id, to, reason, from],
    )
    return rowCount === 1
  }
}
