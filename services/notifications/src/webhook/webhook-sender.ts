/**
 * The webhook channel as the channel worker sees it: a `ChannelSender` (src/sender/) that POSTs
 * the delivery to the recipient's URL with postWebhook and reports the outcome as a
 * `ProviderResult` of provider `webhook`, so the worker settles it like any provider's (a refused
 * address is poison, a timeout or 5xx is retried, a 429 waits for its Retry-After).
 * providerIdempotencyKey off drops the Idempotency-Key header like the providers' client does
 * (the signed body still carries the delivery id as `id`). No circuit breaker: every recipient has
 * its own URL, and one receiver that is down must not stop the webhooks of everyone else.
 */
import type { MitigationState } from '../mitigations.ts'
import type { ChannelSender, OutgoingDelivery } from '../sender/process-delivery.ts'
import type { ProviderResult, ProviderResultKind } from '../sender/provider-client.ts'
import type { Allowlist, LookupAll } from './ssrf-guard.ts'
import { postWebhook, type WebhookPayload, type WebhookResult } from './webhook-client.ts'

export const webhookProviderName = 'webhook'

export interface WebhookSenderOptions {
  /** WEBHOOK_SECRET, WEBHOOK_TIMEOUT_MS, WEBHOOK_ALLOWLIST (config.webhook). */
  secret: string
  timeoutMs: number
  allowlist: readonly string[] | Allowlist
  switches: MitigationState
  /** Every attempt's outcome (the provider_requests_total counter). */
  onRequest?(provider: string, result: ProviderResultKind): void
  lookup?: LookupAll
}

/** What the receiver gets for one delivery. */
export function webhookPayloadOf(d: OutgoingDelivery): WebhookPayload {
  return {
    id: d.deliveryId,
    notificationId: d.notification.id,
    template: d.notification.template,
    category: d.notification.category,
    text: d.rendered.body,
    data: d.notification.data,
  }
}

export function toProviderResult(r: WebhookResult): ProviderResult {
  const provider = webhookProviderName
  switch (r.kind) {
    case 'ok':
      return { kind: 'ok', provider, messageId: r.messageId }
    case 'timeout':
      return { kind: 'timeout', provider, detail: r.detail }
    case 'error':
      return { kind: 'error', provider, detail: r.detail }
    case 'rate_limited':
      return { kind: 'rate_limited', provider, retryAfterMs: r.retryAfterMs, detail: r.detail }
    case 'refused':
      return { kind: 'refused', provider, detail: r.reason }
  }
}

export function createWebhookSender(o: WebhookSenderOptions): ChannelSender {
  return async (d) => {
    const withKey = o.switches.current.providerIdempotencyKey
    const result = await postWebhook(d.to, webhookPayloadOf(d), {
      ...(withKey ? { idempotencyKey: d.deliveryId } : {}),
      deliveryId: d.deliveryId,
      secret: o.secret,
      timeoutMs: o.timeoutMs,
      allowlist: o.allowlist,
      ...(o.lookup ? { lookup: o.lookup } : {}),
    })
    o.onRequest?.(webhookProviderName, result.kind)
    return toProviderResult(result)
  }
}
