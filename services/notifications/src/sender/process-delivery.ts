/**
 * One run of a delivery job — the protocol that makes "exactly once" an effect:
 * 1. claim the delivery record (deliveryRecord: only while it is pending, by a conditional
 *    update, in one statement with the other jobs' claims); nothing to claim = it is already terminal (sent, expired, …): skip, send nothing;
 * 2. past the notification's TTL (ttlCheck) → expired, nothing sent;
 * 3. the recipient's contact (read by the claim's own statement) and the template, and render; a
 *    missing recipient or contact, a missing template or a render error can never succeed = POISON;
 * 4. send with the delivery id as the Idempotency-Key; 2xx → sent (written with the other jobs'
 *    by the SentCoalescer; the job completes only once its row is written); refused → poison;
 *    a 429 or an open breaker → deferred (ttlCheck on): failed for now, and the job waits with
 *    its attempts untouched (`deferralMs`, never past the TTL), until the provider takes it or
 *    the TTL expires it;
 *    anything else → failed, and the run throws so the queue retries it with backoff;
 * 5. poison, or a transient failure on the last attempt: deadLetter on → dead-lettered with its
 *    kind and reason and the job completes; off → left failed (pm17's naive: nobody finds out).
 */
import { UnrecoverableError } from 'bullmq'
import type { MitigationState } from '../mitigations.ts'
import type { ClaimedDelivery, ClaimedForSend, DeliveryRepository } from '../repositories/deliveries.ts'
import type { TemplateRepository } from '../repositories/templates.ts'
import { type RenderedMessage, renderChannel } from '../templates/render.ts'
import type { Channel, DeliveryJobData, Notification } from '../types.ts'
import { type DeferralOptions, DeferredSendError, deferralMs, TransientSendError } from './backoff.ts'
import type { DeadLetterKind, DeadLetters } from './dead-letter.ts'
import type { DeliveryOutcome, SenderMetrics } from './metrics.ts'
import type { ProviderResult } from './provider-client.ts'
import type { SentCoalescer } from './sent-coalescer.ts'

/** What a channel sender gets: everything it needs to build its request. */
export interface OutgoingDelivery {
  deliveryId: string
  channel: Channel
  notification: Notification
  /** The contact point: an address, a phone number, a push token or a webhook URL. */
  to: string
  rendered: RenderedMessage
}

export type ChannelSender = (d: OutgoingDelivery) => Promise<ProviderResult>

/** The job as the processor sees it. */
export interface DeliveryRun {
  data: DeliveryJobData
  /** Attempts already finished (BullMQ's attemptsMade: 0 on the first run). */
  attemptsMade: number
  /** The job's attempts (JOB_ATTEMPTS when it was added). */
  attempts: number
}

export interface ProcessDeliveryDeps {
  deliveries: Pick<DeliveryRepository, 'markFailed' | 'markExpired'>
  /** claimForSend, coalesced with the other jobs' (a DeliveryRepository claims one at a time). */
  claims: Pick<DeliveryRepository, 'claimForSend'>
  /** markSent, coalesced with the other jobs' (resolves once the row is written). */
  sent: Pick<SentCoalescer, 'markSent'>
  templates: Pick<TemplateRepository, 'get'>
  send: ChannelSender
  deadLetters: Pick<DeadLetters, 'deadLetter'>
  switches: MitigationState
  metrics: SenderMetrics
  /** How a 429 or an open breaker defers a job (BREAKER_OPEN_MS when there is no Retry-After). */
  deferral: DeferralOptions
  now?: () => number
}

/** A poison job dropped because deadLetter is off: BullMQ fails it without retrying. */
export class PoisonDroppedError extends UnrecoverableError {
  constructor(reason: string) {
    super(`poison, dropped: ${reason}`)
    this.name = 'UnrecoverableError'
  }
}

type Prepared = { to: string; rendered: RenderedMessage } | { poison: string }

/** Step 3: the recipient's contact and the rendered message, or why it can never be sent. */
async function prepare(deps: ProcessDeliveryDeps, d: ClaimedForSend): Promise<Prepared> {
  const n = d.notification
  if (!d.recipientExists) return { poison: `recipient ${n.recipientId} no longer exists` }
  const to = d.contact
  if (!to) return { poison: `recipient has no ${d.channel} contact` }
  const template = await deps.templates.get(n.template)
  if (!template) return { poison: `template ${n.template} no longer exists` }
  try {
    return { to, rendered: renderChannel(template.channels, d.channel, n.data) }
  } catch (err) {
    return { poison: `render failed: ${err instanceof Error ? err.message : String(err)}` }
  }
}

export async function processDelivery(deps: ProcessDeliveryDeps, run: DeliveryRun): Promise<DeliveryOutcome> {
  const sw = deps.switches.current
  const now = deps.now ?? Date.now
  const { deliveryId, channel } = run.data
  const d = await deps.claims.claimForSend(deliveryId, sw.deliveryRecord)
  if (!d) {
    deps.metrics.delivery(channel, 'skipped')
    return 'skipped'
  }
  if (sw.ttlCheck && now() >= Date.parse(d.notification.expiresAt)) {
    await deps.deliveries.markExpired(deliveryId, 'ttl passed before it could be sent')
    deps.metrics.delivery(channel, 'expired')
    return 'expired'
  }
  const prepared = await prepare(deps, d)
  if ('poison' in prepared) return giveUp(deps, d, 'poison', prepared.poison)
  const result = await deps.send({ deliveryId, channel, notification: d.notification, ...prepared })
  return settle(deps, d, run, result, now)
}

/** Step 4: what the provider's answer means for the delivery. */
async function settle(
  deps: ProcessDeliveryDeps,
  d: ClaimedDelivery,
  run: DeliveryRun,
  result: ProviderResult,
  now: () => number,
): Promise<DeliveryOutcome> {
  if (result.kind === 'ok') {
    await deps.sent.markSent(d.id, result.provider, result.messageId)
    deps.metrics.delivery(d.channel, 'sent')
    deps.metrics.sent(d.channel, (now() - Date.parse(d.notification.createdAt)) / 1000)
    return 'sent'
  }
  if (result.kind === 'refused') return giveUp(deps, d, 'poison', `${result.provider}: ${result.detail}`)
  const reason = `${result.provider}: ${result.kind} (${result.detail})`
  // Deferral waits without spending attempts: only the TTL bounds it, so only while it is checked.
  const untilExpiryMs = Date.parse(d.notification.expiresAt) - now()
  const deferMs = deps.switches.current.ttlCheck
    ? deferralMs(result, deps.deferral, untilExpiryMs)
    : undefined
  if (deferMs !== undefined) {
    await deps.deliveries.markFailed(d.id, `${reason}; deferred ${deferMs} ms, no attempt spent`)
    deps.metrics.delivery(d.channel, 'deferred')
    throw new DeferredSendError(reason, deferMs)
  }
  if (run.attemptsMade + 1 >= run.attempts) {
    return giveUp(deps, d, 'exhausted', `failed ${run.attemptsMade + 1} times, last: ${reason}`)
  }
  await deps.deliveries.markFailed(d.id, reason)
  deps.metrics.delivery(d.channel, 'failed')
  throw new TransientSendError(reason)
}

/** Step 5: dead-lettered (deadLetter on), or left failed and the job failed for good. */
async function giveUp(
  deps: ProcessDeliveryDeps,
  d: ClaimedDelivery,
  kind: DeadLetterKind,
  reason: string,
): Promise<DeliveryOutcome> {
  if (deps.switches.current.deadLetter) {
    await deps.deadLetters.deadLetter(
      { deliveryId: d.id, notificationId: d.notificationId, channel: d.channel, attempts: d.attempts },
      kind,
      reason,
    )
    deps.metrics.delivery(d.channel, 'dead_lettered')
    return 'dead_lettered'
  }
  await deps.deliveries.markFailed(d.id, reason)
  deps.metrics.delivery(d.channel, 'failed')
  // Poison is not retried (it cannot succeed); an exhausted job fails on its last attempt anyway.
  if (kind === 'poison') throw new PoisonDroppedError(reason)
  throw new TransientSendError(reason)
}
