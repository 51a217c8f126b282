/**
 * The webhook channel's sender: the recipient's URL gets a signed POST through the SSRF-guarded
 * client (src/webhook/webhook-client.ts), its outcome mapped onto the providers' results (provider
 * `webhook`), so processDelivery treats both alike — `refused` (a loopback, private, metadata …
 * address) is poison, an ambiguous timeout is retried with the same Idempotency-Key.
 * No circuit breaker: every recipient has a host of its own, and one failing receiver must not
 * stop the others' webhooks.
 */
import type { Config } from '../config.ts'
import { postWebhook } from '../webhook/webhook-client.ts'
import type { ChannelSender } from './process-delivery.ts'
import type { ProviderResult, ProviderResultKind } from './provider-client.ts'

const provider = 'webhook'

export function webhookSender(
  config: Config,
  onRequest?: (provider: string, result: ProviderResultKind) => void,
): ChannelSender {
  return async (d) => {
    const r = await postWebhook(
      d.to,
      {
        id: d.deliveryId,
        notificationId: d.notification.id,
        template: d.notification.template,
        category: d.notification.category,
        text: d.rendered.body,
        data: d.notification.data,
      },
      {
        idempotencyKey: d.deliveryId,
        deliveryId: d.deliveryId,
        secret: config.webhook.secret,
        timeoutMs: config.webhook.timeoutMs,
        allowlist: config.webhook.allowlist,
      },
    )
    onRequest?.(provider, r.kind)
    const result: ProviderResult =
      r.kind === 'ok'
        ? { kind: 'ok', provider, messageId: r.messageId }
        : r.kind === 'refused'
          ? { kind: 'refused', provider, detail: `refused ${d.to}: ${r.reason}` }
          : r.kind === 'rate_limited'
            ? { kind: 'rate_limited', provider, retryAfterMs: r.retryAfterMs, detail: r.detail }
            : { kind: r.kind, provider, detail: r.detail }
    return result
  }
}
