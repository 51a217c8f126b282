/**
 * The providers' HTTP client: `POST <base>/v1/messages` with the delivery id as `Idempotency-Key`
 * (providerIdempotencyKey), JSON `{channel, to, subject?, body}`, one circuit breaker per provider,
 * and each outcome classified by what it tells about the message:
 * - ok: 2xx, sent (`{messageId}`).
 * - timeout: AMBIGUOUS — the deadline passed or the connection broke after the request went out;
 *   the provider may have sent it. Retrying is safe only with the key (pm11).
 * - rate_limited: 429, not sent; retry no sooner than its Retry-After.
 * - error: DEFINITE — not sent (connection refused, 5xx, another 4xx, an open breaker), so another
 *   provider may be tried at once (SMS failover).
 * - refused: the destination was refused before anything was sent (the webhook's SSRF guard).
 *
 * providerDeadline on: one attempt per job run with PROVIDER_TIMEOUT_MS, above the provider's own
 * budget, so a slow success is not mistaken for a failure; the queue retries later with backoff.
 * Off (pm11's naive client): PROVIDER_NAIVE_TIMEOUT_MS and PROVIDER_NAIVE_RETRIES immediate blind
 * retries — every timed-out attempt that the provider did process becomes a duplicate at a provider
 * that ignores keys.
 */
import { CircuitBreaker, CircuitOpenError, retry, TimeoutError, withTimeout } from '@faultline/resilience'
import { Agent, request } from 'undici'
import type { MitigationState } from '../mitigations.ts'
import type { Channel } from '../types.ts'

/** A provider by name (`email`, `sms-a`, `sms-b`, `push`) and its base URL. */
export interface Provider {
  name: string
  baseUrl: string
}

export interface ProviderMessage {
  channel: Channel
  to: string
  subject?: string
  body: string
}

export type ProviderResult =
  | { kind: 'ok'; provider: string; messageId: string | null }
  | { kind: 'timeout'; provider: string; detail: string }
  | { kind: 'rate_limited'; provider: string; retryAfterMs: number | null; detail: string }
  | { kind: 'error'; provider: string; detail: string; breakerOpen?: boolean }
  | { kind: 'refused'; provider: string; detail: string }

export type ProviderResultKind = ProviderResult['kind']

export interface ProviderClientOptions {
  switches: MitigationState
  /** PROVIDER_TIMEOUT_MS: one attempt's deadline with providerDeadline on. */
  timeoutMs: number
  /** PROVIDER_NAIVE_TIMEOUT_MS and PROVIDER_NAIVE_RETRIES: providerDeadline off. */
  naiveTimeoutMs: number
  naiveRetries: number
  /** BREAKER_FAILURES consecutive failures open a provider's breaker for BREAKER_OPEN_MS. */
  breaker: { failures: number; openMs: number }
  /** Every request made (an open breaker makes none): the provider_requests_total counter. */
  onRequest?(provider: string, result: ProviderResultKind): void
  onBreakerChange?(provider: string, open: boolean): void
}

/** Connection failures before a byte of the request left: nothing can have been sent. */
const definiteNetworkCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
])

class AttemptFailed extends Error {
  readonly result: ProviderResult
  constructor(result: ProviderResult) {
    super(`${result.provider}: ${result.kind}`)
    this.result = result
  }
}

/** Retry-After in seconds or as an HTTP date, in ms; null when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, nowMs = Date.now()): number | null {
  const value = Array.isArray(header) ? header[0] : header
  if (!value) return null
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.ceil(Number(value) * 1000)
  const at = Date.parse(value)
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs)
}

function networkErrorCode(err: unknown): string | undefined {
  const e = err as { code?: string; cause?: { code?: string } }
  return e?.code ?? e?.cause?.code
}

export class ProviderClient {
  readonly #o: ProviderClientOptions
  readonly #breakers = new Map<string, CircuitBreaker>()
  readonly #agent = new Agent({ keepAliveTimeout: 10_000, connections: 64 })

  constructor(o: ProviderClientOptions) {
    this.#o = o
  }

  /** The provider's breaker (made on first use): the failover reads its state. */
  breaker(name: string): CircuitBreaker {
    let b = this.#breakers.get(name)
    if (!b) {
      b = new CircuitBreaker({
        name,
        consecutiveFailures: this.#o.breaker.failures,
        openMs: this.#o.breaker.openMs,
        onStateChange: (c) => this.#o.onBreakerChange?.(name, c.to === 'open'),
      })
      this.#breakers.set(name, b)
    }
    return b
  }

  /** Every breaker made so far, by provider (the breaker_open gauge). */
  breakers(): ReadonlyMap<string, CircuitBreaker> {
    return this.#breakers
  }

  /** Sends one message per the switches; never throws for a provider's failure, it classifies it. */
  async send(provider: Provider, message: ProviderMessage, key: string): Promise<ProviderResult> {
    const sw = this.#o.switches.current
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (sw.providerIdempotencyKey) headers['idempotency-key'] = key
    const body = JSON.stringify(message)
    if (sw.providerDeadline) return this.#guarded(provider, body, headers, this.#o.timeoutMs)
    try {
      return await retry(
        async () => {
          const r = await this.#guarded(provider, body, headers, this.#o.naiveTimeoutMs)
          if (r.kind !== 'ok' && r.kind !== 'refused') throw new AttemptFailed(r)
          return r
        },
        {
          maxAttempts: this.#o.naiveRetries + 1,
          backoff: 'none',
          retryable: (e) => e instanceof AttemptFailed,
        },
      )
    } catch (e) {
      if (e instanceof AttemptFailed) return e.result
      throw e
    }
  }

  async close(): Promise<void> {
    await this.#agent.close()
  }

  /** One attempt through the provider's breaker; every non-ok outcome counts against it. */
  async #guarded(
    provider: Provider,
    body: string,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<ProviderResult> {
    try {
      return await this.breaker(provider.name).execute(async () => {
        const r = await this.#attempt(provider, body, headers, timeoutMs)
        this.#o.onRequest?.(provider.name, r.kind)
        if (r.kind !== 'ok') throw new AttemptFailed(r)
        return r
      })
    } catch (e) {
      if (e instanceof AttemptFailed) return e.result
      if (e instanceof CircuitOpenError) {
        return { kind: 'error', provider: provider.name, detail: 'circuit breaker open', breakerOpen: true }
      }
      throw e
    }
  }

  async #attempt(
    provider: Provider,
    body: string,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<ProviderResult> {
    const name = provider.name
    const url = `${provider.baseUrl.replace(/\/+$/, '')}/v1/messages`
    try {
      return await withTimeout(async (signal) => {
        const res = await request(url, { method: 'POST', headers, body, signal, dispatcher: this.#agent })
        const text = await res.body.text()
        if (res.statusCode >= 200 && res.statusCode < 300) {
          let messageId: string | null = null
          try {
            const parsed = JSON.parse(text) as { messageId?: unknown }
            if (typeof parsed.messageId === 'string') messageId = parsed.messageId
          } catch {
            // A 2xx without the JSON body is still an accepted message: the status is the contract.
          }
          return { kind: 'ok', provider: name, messageId } as const
        }
        if (res.statusCode === 429) {
          return {
            kind: 'rate_limited',
            provider: name,
            retryAfterMs: retryAfterMs(res.headers['retry-after']),
            detail: 'HTTP 429',
          } as const
        }
        return { kind: 'error', provider: name, detail: `HTTP ${res.statusCode}` } as const
      }, timeoutMs)
    } catch (err) {
      if (err instanceof TimeoutError) {
        return { kind: 'timeout', provider: name, detail: `no answer within ${timeoutMs} ms` }
      }
      const code = networkErrorCode(err)
      if (code && definiteNetworkCodes.has(code)) {
        return { kind: 'error', provider: name, detail: `connection failed: ${code}` }
      }
      // The request may have reached the provider (a reset or closed socket after sending):
      // treated as a timeout, since it may have been sent.
      return {
        kind: 'timeout',
        provider: name,
        detail: `connection lost: ${code ?? (err as Error)?.message ?? String(err)}`,
      }
    }
  }
}
