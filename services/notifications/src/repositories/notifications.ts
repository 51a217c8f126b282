/**
 * Accepted notifications. A notification and its outbox row commit in one transaction: the relay
 * publishes exactly the committed notifications, and a request whose transaction rolled back
 * never reaches Kafka. The Idempotency-Key lives on the row it created, behind a unique index, so
 * two requests with one key can never both create a notification, whatever Redis does.
 */
import { withPgClient } from '@faultline/kit/clients'
import type pg from 'pg'
import type { Channel, DeliveryStatus, Notification, NotificationEvent, Priority } from '../types.ts'
import { DeliveryRepository } from './deliveries.ts'

type Db = Pick<pg.Pool, 'connect' | 'query'>

/** What POST /api/notifications stores (validated by the route). */
export interface NewNotification {
  recipientId: string
  template: string
  data: Record<string, unknown>
  channels: Channel[] | null
  category: string
  priority: Priority
  ttlS: number
}

export interface IdempotencyRecord {
  key: string
  requestHash: string
  ttlS: number
}

/** The notification a live Idempotency-Key created. */
export interface KeyedNotification {
  id: string
  requestHash: string | null
}

export interface NotificationStats {
  /** Accepted notifications. */
  notifications: number
  deliveries: Record<DeliveryStatus, number>
  /** Deliveries not yet terminal (queued, held, sending, failed). */
  inFlight: number
  /**
   * The balance holds: every accepted notification is routed and every delivery is in a terminal
   * state, so accepted = sent + dead_lettered + expired + suppressed. While work is outstanding it
   * is false, and `inFlight` and `unrouted` say how much; a delivery left `failed` with nothing
   * retrying it keeps it false for good.
   */
  balanced: boolean
  /** Accepted notifications the router has not written deliveries for yet. */
  unrouted: number
}

interface NotificationRow {
  id: string
  recipient_id: string
  template: string
  data: Record<string, unknown>
  channels: Channel[] | null
  category: string
  priority: Priority
  created_at: Date
  expires_at: Date
}

const columns =
  'id::text AS id, recipient_id, template, data, channels, category, priority, created_at, expires_at'
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const inFlightStatuses: readonly DeliveryStatus[] = ['queued', 'held', 'sending', 'failed']

function toNotification(r: NotificationRow): Notification {
  return {
    id: r.id,
    recipientId: r.recipient_id,
    template: r.template,
    data: r.data,
    channels: r.channels,
    category: r.category,
    priority: r.priority,
    createdAt: r.created_at.toISOString(),
    expiresAt: r.expires_at.toISOString(),
  }
}

export function isNotificationId(id: string): boolean {
  return uuidPattern.test(id)
}

export class NotificationRepository {
  readonly #db: Db

  constructor(db: Db) {
    this.#db = db
  }

  /** The notification an Idempotency-Key created, while the key is kept; null otherwise. */
  async findByKey(key: string): Promise<KeyedNotification | null> {
    const { rows } = await this.#db.query<{ id: string; request_hash: string | null }>(
      `SELECT id::text AS id, request_hash FROM notifications
       WHERE idempotency_key = $1 AND idempotency_expires_at > now()`,
      [key],
    )
    const r = rows[0]
    return r ? { id: r.id, requestHash: r.request_hash } : null
  }

  /**
   * Writes the notification and its outbox row (key = recipient) in one transaction. With an
   * Idempotency-Key, the key is first taken from the expired notification still holding it, and
   * null is returned (nothing written) when a live notification holds it: the caller then answers
   * from that one.
   */
  async create(input: NewNotification, idempotency?: IdempotencyRecord): Promise<Notification | null> {
    return withPgClient(this.#db, async (client) => {
      await client.query('BEGIN')
      if (idempotency) {
        await client.query(
          `UPDATE notifications SET idempotency_key = NULL
           WHERE idempotency_key = $1 AND idempotency_expires_at <= now()`,
          [idempotency.key],
        )
      }
      const { rows } = await client.query<NotificationRow>(
        `INSERT INTO notifications (idempotency_key, request_hash, idempotency_expires_at, recipient_id,
           template, data, channels, category, priority, expires_at)
         VALUES ($1, $2, now() + make_interval(secs => $3::double precision), $4, $5, $6, $7, $8, $9,
           now() + make_interval(secs => $10::double precision))
         ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING ${columns}`,
        [
          idempotency?.key ?? null,
          idempotency?.requestHash ?? null,
          idempotency?.ttlS ?? 0,
          input.recipientId,
          input.template,
          JSON.stringify(input.data),
          input.channels,
          input.category,
          input.priority,
          input.ttlS,
        ],
      )
      const row = rows[0]
      if (!row) {
        await client.query('ROLLBACK')
        return null
      }
      const notification = toNotification(row)
      const event: NotificationEvent = { type: 'notification_accepted', notification }
      await client.query('INSERT INTO outbox (key, payload) VALUES ($1, $2)', [
        notification.recipientId,
        JSON.stringify(event),
      ])
      await client.query('COMMIT')
      return notification
    })
  }

  /** The notification, or null for an unknown or malformed id. */
  async get(id: string): Promise<Notification | null> {
    if (!isNotificationId(id)) return null
    const { rows } = await this.#db.query<NotificationRow>(
      `SELECT ${columns} FROM notifications WHERE id = $1`,
      [id],
    )
    return rows[0] ? toNotification(rows[0]) : null
  }

  /** The balance, read in one snapshot (REPEATABLE READ) so the counts agree with each other. */
  async stats(): Promise<NotificationStats> {
    return withPgClient(this.#db, async (client) => {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      const { rows } = await client.query<{ notifications: string; unrouted: string }>(
        `SELECT (SELECT count(*) FROM notifications) AS notifications,
                (SELECT count(*) FROM notifications n
                  WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id)) AS unrouted`,
      )
      const deliveries = await new DeliveryRepository(client).countByStatus()
      await client.query('COMMIT')
      const totals = rows[0] as { notifications: string; unrouted: string }
      // Every status not in flight is terminal: nothing in flight means every delivery is terminal.
      const inFlight = inFlightStatuses.reduce((sum, s) => sum + deliveries[s], 0)
      const unrouted = Number(totals.unrouted)
      return {
        notifications: Number(totals.notifications),
        deliveries,
        inFlight,
        balanced: unrouted === 0 && inFlight === 0,
        unrouted,
      }
    })
  }
}
