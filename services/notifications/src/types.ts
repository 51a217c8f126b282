/** The notification service's vocabulary, shared by the API, the router and the channel workers. */

export const channels = ['email', 'sms', 'push', 'webhook'] as const
export type Channel = (typeof channels)[number]

export const priorities = ['critical', 'normal', 'low'] as const
export type Priority = (typeof priorities)[number]

/**
 * A delivery's state (one per notification and channel; Postgres `deliveries.status`).
 * Non-terminal: queued → (held →) sending → sent, or failed (a transient failure waiting for its
 * retry) → sending again. Terminal: sent, dead_lettered, expired, suppressed. The balance
 * `deliveries = sent + dead_lettered + expired + suppressed + in flight` holds at any time, and
 * with nothing in flight every accepted delivery is in exactly one terminal state.
 */
export const deliveryStatuses = [
  'queued',
  'held',
  'sending',
  'failed',
  'sent',
  'dead_lettered',
  'expired',
  'suppressed',
] as const
export type DeliveryStatus = (typeof deliveryStatuses)[number]
export const terminalStatuses = [
  'sent',
  'dead_lettered',
  'expired',
  'suppressed',
] as const satisfies DeliveryStatus[]
export type TerminalStatus = (typeof terminalStatuses)[number]

/** Why a delivery was suppressed (the router decides; `reason` column). */
export type SuppressionReason = 'opted_out' | 'no_contact' | 'rate_limited' | 'channel_not_in_template'

/** The recipient's contact points and preferences (`PUT /api/recipients/:id`). */
export interface Recipient {
  id: string
  email: string | null
  phone: string | null
  pushToken: string | null
  webhookUrl: string | null
  /** IANA zone, e.g. `Europe/Paris`. */
  timezone: string
  /** Local wall-clock window `HH:MM`–`HH:MM` (may cross midnight); null = none. */
  quietHours: { start: string; end: string } | null
  /** category → channels the recipient opted out of (`'*'` = every channel). */
  optOuts: Record<string, Array<Channel | '*'>>
  updatedAt: string
}

/** A stored notification (the API's row; what the relay publishes, by reference). */
export interface Notification {
  id: string
  recipientId: string
  template: string
  data: Record<string, unknown>
  /** The channels asked for; null = every channel the template has. */
  channels: Channel[] | null
  category: string
  priority: Priority
  createdAt: string
  /** createdAt + ttlS: nothing is sent after this. */
  expiresAt: string
}

/**
 * The Kafka event (topic NOTIFICATIONS_TOPIC, key = recipientId): the whole notification, so the
 * router needs no read of the notifications table; `outboxId` is added by the relay.
 */
export interface NotificationEvent {
  type: 'notification_accepted'
  notification: Notification
  outboxId?: string
}

/** The BullMQ job of a channel queue: everything else is read from the delivery record. */
export interface DeliveryJobData {
  deliveryId: string
  notificationId: string
  channel: Channel
}
