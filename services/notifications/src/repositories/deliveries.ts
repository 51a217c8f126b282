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

/** A claimed delivery with its recipient's contact point for the channel, read in the same statement. */
export interface ClaimedForSend extends ClaimedDelivery {
  /** False when the recipient no longer exists. */
  recipientExists: boolean
  /** The channel's contact point (address, phone, push token, webhook URL), null when there is none. */
  contact: string | null
}

/** One delivery accepted by its provider, for markSentMany. */
export interface SentRecord {
  id: string
  provider: string
  messageId: string | null
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

interface ClaimedForSendRow extends ClaimedRow {
  recipient_exists: boolean
  contact: string | null
}

const claimUpdate = `UPDATE deliveries SET status = 'sending', attempts = attempts + 1, reason = NULL, updated_at = now()
         WHERE id = $1 AND ($2::boolean IS FALSE OR status = ANY($3::text[]))
         RETURNING *`

const columns = `d.id, d.notification_id::text AS notification_id, d.channel, d.status, d.reason,
  d.dead_letter_kind, d.attempts, d.sends, d.provider, d.provider_message_id, d.held_until,
  d.created_at, d.updated_at, d.sent_at`

/** The claimed rows (CTE `c`) with their notification and the recipient's contact for the channel. */
const claimForSendSelect = `SELECT ${columns}, n.recipient_id, n.template, n.data, n.channels, n.category, n.priority,
         n.created_at AS n_created_at, n.expires_at, r.id IS NOT NULL AS recipient_exists,
         CASE d.channel WHEN 'email' THEN r.email WHEN 'sms' THEN r.phone
                        WHEN 'push' THEN r.push_token WHEN 'webhook' THEN r.webhook_url END AS contact
       FROM c d JOIN notifications n ON n.id = d.notification_id
       LEFT JOIN recipients r ON r.id = n.recipient_id`

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

function toClaimed(r: ClaimedRow): ClaimedDelivery {
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

function toClaimedForSend(r: ClaimedForSendRow): ClaimedForSend {
  return { ...toClaimed(r), recipientExists: r.recipient_exists, contact: r.contact }
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
      `WITH c AS (${claimUpdate})
       SELECT ${columns}, n.recipient_id, n.template, n.data, n.channels, n.category, n.priority,
              n.created_at AS n_created_at, n.expires_at
       FROM c d JOIN notifications n ON n.id = d.notification_id`,
      [id, onlyPending, claimableStatuses],
    )
    return rows[0] ? toClaimed(rows[0]) : null
  }

  /**
   * claim, and in the same statement (one round trip instead of two) the recipient's contact point
   * for the delivery's channel: what the channel worker needs before it renders and sends. The
   * claim is exactly claim's; the recipient is read by the same statement's snapshot. A prepared
   * statement (by name, once per connection): the hottest statement of the worker is planned once.
   */
  async claimForSend(id: string, onlyPending: boolean): Promise<ClaimedForSend | null> {
    const { rows } = await this.#db.query<ClaimedForSendRow>({
      name: 'ntf-deliveries-claim-for-send',
      text: `WITH c AS (${claimUpdate}) ${claimForSendSelect}`,
      values: [id, onlyPending, claimableStatuses],
    })
    return rows[0] ? toClaimedForSend(rows[0]) : null
  }

  /**
   * claimForSend for many distinct deliveries in one statement (the channel worker's
   * ClaimCoalescer): each row is claimed by the same conditional update as its own claim would
   * be. Ids in sorted order, so two batches lock shared rows in the same order. Returns the
   * claimed ones by id; an id missing = not claimed (terminal or unknown).
   */
  async claimManyForSend(ids: readonly string[], onlyPending: boolean): Promise<Map<string, ClaimedForSend>> {
    const claimed = new Map<string, ClaimedForSend>()
    if (ids.length === 0) return claimed
    const { rows } = await this.#db.query<ClaimedForSendRow>({
      name: 'ntf-deliveries-claim-many-for-send',
      text: `WITH c AS (
         UPDATE deliveries SET status = 'sending', attempts = attempts + 1, reason = NULL, updated_at = now()
         WHERE id = ANY($1::text[]) AND ($2::boolean IS FALSE OR status = ANY($3::text[]))
         RETURNING *
       )
       ${claimForSendSelect}`,
      values: [[...ids].sort(), onlyPending, claimableStatuses],
    })
    for (const r of rows) claimed.set(r.id, toClaimedForSend(r))
    return claimed
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

  /**
   * markSent for many deliveries in one statement (the channel worker's SentCoalescer): each row
   * moves exactly as markSent would move it, and a delivery listed n times gets sends + n, as n
   * markSent calls would. Ids in sorted order, so two batches lock shared rows in the same order.
   */
  async markSentMany(records: readonly SentRecord[]): Promise<void> {
    if (records.length === 0) return
    const byId = new Map<string, { provider: string; messageId: string | null; n: number }>()
    for (const r of records) {
      const n = (byId.get(r.id)?.n ?? 0) + 1
      byId.set(r.id, { provider: r.provider, messageId: r.messageId, n })
    }
    const ids = [...byId.keys()].sort()
    await this.#db.query({
      name: 'ntf-deliveries-mark-sent-many',
      text: `UPDATE deliveries d SET status = 'sent', sends = d.sends + u.n, provider = u.provider,
         provider_message_id = u.message_id, reason = NULL, sent_at = coalesce(d.sent_at, now()), updated_at = now()
       FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) AS u(id, provider, message_id, n)
       WHERE d.id = u.id`,
      values: [
        ids,
        ids.map((id) => byId.get(id)?.provider),
        ids.map((id) => byId.get(id)?.messageId ?? null),
        ids.map((id) => byId.get(id)?.n),
      ],
    })
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
