/**
 * Recipients: contact points and preferences. The API writes them (PUT replaces the whole record);
 * the router and the channel workers read them when they decide and send, so a change applies to
 * every notification not yet sent.
 */
import type pg from 'pg'
import type { Channel, Recipient } from '../types.ts'

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>

/** What PUT /api/recipients/:id stores (validated by the route). */
export type RecipientInput = Omit<Recipient, 'updatedAt'>

interface RecipientRow {
  id: string
  email: string | null
  phone: string | null
  push_token: string | null
  webhook_url: string | null
  timezone: string
  quiet_start: string | null
  quiet_end: string | null
  opt_outs: Record<string, Array<Channel | '*'>>
  updated_at: Date
}

function toRecipient(r: RecipientRow): Recipient {
  return {
    id: r.id,
    email: r.email,
    phone: r.phone,
    pushToken: r.push_token,
    webhookUrl: r.webhook_url,
    timezone: r.timezone,
    quietHours: r.quiet_start && r.quiet_end ? { start: r.quiet_start, end: r.quiet_end } : null,
    optOuts: r.opt_outs,
    updatedAt: r.updated_at.toISOString(),
  }
}

/** The contact point a channel sends to, or null when the recipient has none. */
export function contactFor(recipient: Recipient, channel: Channel): string | null {
  switch (channel) {
    case 'email':
      return recipient.email
    case 'sms':
      return recipient.phone
    case 'push':
      return recipient.pushToken
    case 'webhook':
      return recipient.webhookUrl
  }
}

export class RecipientRepository {
  readonly #db: Queryable

  constructor(db: Queryable) {
    this.#db = db
  }

  async get(id: string): Promise<Recipient | null> {
    const { rows } = await this.#db.query<RecipientRow>('SELECT * FROM recipients WHERE id = $1', [id])
    return rows[0] ? toRecipient(rows[0]) : null
  }

  /** True when the recipient exists (the API's check before it accepts a notification). */
  async exists(id: string): Promise<boolean> {
    const { rowCount } = await this.#db.query('SELECT 1 FROM recipients WHERE id = $1', [id])
    return rowCount === 1
  }

  /** Creates or replaces the recipient; `created` tells which (201 or 200). */
  async put(input: RecipientInput): Promise<{ recipient: Recipient; created: boolean }> {
    const { rows } = await this.#db.query<RecipientRow & { created: boolean }>(
      `INSERT INTO recipients AS r (id, email, phone, push_token, webhook_url, timezone, quiet_start, quiet_end, opt_outs)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (id) DO UPDATE SET email = $2, phone = $3, push_token = $4, webhook_url = $5, timezone = $6,
         quiet_start = $7, quiet_end = $8, opt_outs = $9, updated_at = now()
       RETURNING r.*, (xmax = 0) AS created`,
      [
        input.id,
        input.email,
        input.phone,
        input.pushToken,
        input.webhookUrl,
        input.timezone,
        input.quietHours?.start ?? null,
        input.quietHours?.end ?? null,
        JSON.stringify(input.optOuts),
      ],
    )
    const row = rows[0] as RecipientRow & { created: boolean }
    return { recipient: toRecipient(row), created: row.created }
  }
}
