/**
 * SMS through provider A with failover to provider B (GOV.UK Notify's "failover by health"): when
 * A's breaker is open, or A gave a DEFINITE failure (connection refused, 5xx, 429: the message was
 * not sent), the same run sends through B with the same Idempotency-Key.
 *
 * An AMBIGUOUS outcome at A (a timeout, a reply lost) is not failed over: A may have sent it, and
 * B does not know A's keys, so sending through B would deliver it twice. The run fails instead and
 * the queue retries A later with the same key, which A deduplicates if it did send (pm11). (A
 * retry that later finds A's breaker open does go to B: the breaker says A is down, and a message
 * stuck behind a dead provider is worse than the small chance of a duplicate.)
 */
import type { Provider, ProviderClient, ProviderMessage, ProviderResult } from './provider-client.ts'

export interface SmsProviders {
  primary: Provider
  fallback: Provider
}

export async function sendSmsWithFailover(
  client: ProviderClient,
  providers: SmsProviders,
  message: ProviderMessage,
  key: string,
): Promise<ProviderResult> {
  const first = await client.send(providers.primary, message, key)
  if (first.kind === 'ok' || first.kind === 'timeout' || first.kind === 'refused') return first
  return client.send(providers.fallback, message, key)
}
