/**
 * The router's decision for one notification, per channel, with no I/O: the caller reads the
 * template's channels and the recipient, asks the rate limiter once when `needsRateLimit` says
 * so, and passes the answer in. Per channel (the request's channels, else the template's), the
 * first rule that applies wins:
 *   1. the template has no such channel → suppressed `channel_not_in_template`;
 *   2. ttlCheck on and now ≥ expiresAt → expired `ttl_expired`;
 *   3. opted out of the category on this channel (or `'*'`) → suppressed `opted_out`
 *      (critical does not bypass an opt-out);
 *   4. no contact point for the channel → suppressed `no_contact`;
 *   5. over the per-recipient, per-category rate limit (one decision for the whole
 *      notification; critical bypasses) → suppressed `rate_limited`;
 *   6. inside the recipient's quiet hours (critical bypasses) → held until the window ends;
 *   7. queued.
 */
import { contactFor } from '../repositories/recipients.ts'
import { channels as allChannels, type Channel, type Notification, type Recipient } from '../types.ts'
import { quietHoursEnd } from './quiet-hours.ts'

export type RouteReason =
  | 'channel_not_in_template'
  | 'ttl_expired'
  | 'opted_out'
  | 'no_contact'
  | 'rate_limited'
  | 'quiet_hours'

export interface ChannelDecision {
  channel: Channel
  status: 'queued' | 'held' | 'suppressed' | 'expired'
  /** Why it is not simply queued; null when queued. */
  reason: RouteReason | null
  /** Held: when the quiet hours end (ms since the epoch); null otherwise. */
  heldUntilMs: number | null
}

export interface DecideInput {
  notification: Pick<Notification, 'channels' | 'category' | 'priority' | 'expiresAt'>
  /** The channels the template defines; null when the template does not exist. */
  templateChannels: readonly Channel[] | null
  /** Null when the recipient does not exist (every channel then has no contact). */
  recipient: Pick<
    Recipient,
    'email' | 'phone' | 'pushToken' | 'webhookUrl' | 'timezone' | 'quietHours' | 'optOuts'
  > | null
  nowMs: number
  /** The ttlCheck switch. */
  ttlCheck: boolean
}

/**
 * The channels to route: the request's (duplicates dropped), else the template's. With neither
 * (the template is gone and the request named none) every channel, each then suppressed, so an
 * accepted notification always gets at least one delivery row.
 */
export function channelsToRoute(input: Pick<DecideInput, 'notification' | 'templateChannels'>): Channel[] {
  const asked = input.notification.channels
  if (asked && asked.length > 0) return [...new Set(asked)]
  if (input.templateChannels && input.templateChannels.length > 0) return [...input.templateChannels]
  return [...allChannels]
}

/** Rules 1–4: a final decision, or undefined when the channel goes on to the rate limit. */
function precheck(input: DecideInput, channel: Channel): ChannelDecision | undefined {
  const done = (status: ChannelDecision['status'], reason: RouteReason): ChannelDecision => ({
    channel,
    status,
    reason,
    heldUntilMs: null,
  })
  if (!input.templateChannels?.includes(channel)) return done('suppressed', 'channel_not_in_template')
  if (input.ttlCheck && input.nowMs >= Date.parse(input.notification.expiresAt))
    return done('expired', 'ttl_expired')
  const optedOut = input.recipient?.optOuts[input.notification.category] ?? []
  if (optedOut.includes('*') || optedOut.includes(channel)) return done('suppressed', 'opted_out')
  if (!input.recipient || !contactFor(input.recipient as Recipient, channel))
    return done('suppressed', 'no_contact')
  return undefined
}

/**
 * True when the rate limiter must be asked: the notification is not critical and at least one
 * channel gets past rules 1–4 (a notification suppressed or expired everywhere spends no quota).
 */
export function needsRateLimit(input: DecideInput): boolean {
  if (input.notification.priority === 'critical') return false
  return channelsToRoute(input).some((c) => precheck(input, c) === undefined)
}

/**
 * Every channel's decision. `rateAllowed` is the limiter's answer when `needsRateLimit` was true
 * (ignored otherwise: pass true).
 */
export function decide(input: DecideInput, rateAllowed: boolean): ChannelDecision[] {
  const critical = input.notification.priority === 'critical'
  const heldUntilMs =
    critical || !input.recipient
      ? null
      : quietHoursEnd(input.nowMs, input.recipient.quietHours, input.recipient.timezone)
  return channelsToRoute(input).map((channel) => {
    const early = precheck(input, channel)
    if (early) return early
    if (!critical && !rateAllowed)
      return { channel, status: 'suppressed', reason: 'rate_limited', heldUntilMs: null }
    if (heldUntilMs !== null) return { channel, status: 'held', reason: 'quiet_hours', heldUntilMs }
    return { channel, status: 'queued', reason: null, heldUntilMs: null }
  })
}
