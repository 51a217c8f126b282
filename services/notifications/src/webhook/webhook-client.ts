/**
 * The webhook channel's HTTP client: one signed POST to the recipient's URL, guarded against SSRF,
 * with each outcome classified like the providers' client (src/sender/provider-client.ts):
 * - ok: 2xx (a `{messageId}` in a JSON reply is kept).
 * - timeout: AMBIGUOUS — no reply within the deadline, or the connection broke after the request
 *   went out; the receiver may have it. The retry carries the same Idempotency-Key.
 * - rate_limited: 429, retry no sooner than its Retry-After.
 * - error (definite): nothing was accepted — the connection failed before sending, DNS failed, or
 *   the receiver answered 3xx/4xx/5xx. A redirect is never followed: its target would bypass the
 *   guard, and a receiver that moved must be re-registered.
 * - refused: the guard refused the destination before any connection (POISON for the worker:
 *   sending again cannot succeed).
 * The connection goes to the address the guard checked: a dispatcher of this request alone whose
 * `connect.lookup` answers only that address, so a DNS answer that changes between the check and
 * the connect (rebinding) is never used; TLS still verifies the certificate against the hostname.
 * The reply body is read up to a cap and then dropped: a receiver cannot make the worker buffer
 * an endless reply.
 */
import type { LookupAddress } from 'node:dns'
import { TimeoutError, withTimeout } from '@faultline/resilience'
import { Agent, request } from 'undici'
import { retryAfterMs } from '../sender/provider-client.ts'
import { signatureHeader, signPayload } from './sign.ts'
import { type Allowlist, type LookupAll, type RefusalClass, resolveAllowed } from './ssrf-guard.ts'

/** What a webhook receiver gets (JSON). */
export interface WebhookPayload {
  /** The delivery id (also the Idempotency-Key). */
  id: string
  notificationId: string
  template: string
  category: string
  text: string
  data: Record<string, unknown>
}

export interface PostWebhookOptions {
  /** The delivery id: the receiver dedupes on it (absent = no Idempotency-Key header). */
  idempotencyKey?: string
  deliveryId: string
  /** WEBHOOK_SECRET: the HMAC key of Faultline-Signature. */
  secret: string
  /** Deadline of the resolution, and then of the request until its reply is read. */
  timeoutMs: number
  /** WEBHOOK_ALLOWLIST. */
  allowlist: readonly string[] | Allowlist
  /** The signature's timestamp (unix seconds); default now. */
  nowS?: number
  /** Resolution of the URL's host (default: dns.lookup, every address). */
  lookup?: LookupAll
  /** Largest reply body read (bytes); the rest is dropped. */
  maxResponseBytes?: number
}

export type WebhookResult =
  | { kind: 'ok'; status: number; messageId: string | null }
  | { kind: 'timeout'; detail: string }
  | { kind: 'error'; status?: number; definite: true; detail: string }
  | { kind: 'rate_limited'; retryAfterMs: number | null; detail: string }
  | { kind: 'refused'; reason: string; addressClass?: RefusalClass }

export type WebhookResultKind = WebhookResult['kind']

const defaultMaxResponseBytes = 64 * 1024

/** Connection failures before a byte of the request left: nothing can have been received. */
const definiteNetworkCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
])

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: string; cause?: { code?: string } }
  return e?.code ?? e?.cause?.code
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void

/** A `lookup` for net/tls.connect that answers only the checked address, whatever it is asked. */
function pinnedLookup(address: string, family: 4 | 6) {
  return (_host: string, options: { all?: boolean } | LookupCallback, callback?: LookupCallback): void => {
    const cb = (typeof options === 'function' ? options : callback) as LookupCallback
    const all = typeof options === 'object' && options?.all === true
    if (all) cb(null, [{ address, family }])
    else cb(null, address, family)
  }
}

/** Reads at most `max` bytes of the reply, then stops (the stream is destroyed). */
async function readCapped(
  body: AsyncIterable<Buffer> & { destroy(): unknown },
  max: number,
): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > max) {
      chunks.push(chunk.subarray(0, Math.max(0, max - (size - chunk.length))))
      body.destroy()
      break
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function messageIdOf(text: string): string | null {
  try {
    const parsed = JSON.parse(text) as { messageId?: unknown }
    return typeof parsed?.messageId === 'string' ? parsed.messageId : null
  } catch {
    // A 2xx without a JSON body is still accepted: the status is the contract.
    return null
  }
}

function classifyFailure(err: unknown, timeoutMs: number): WebhookResult {
  if (err instanceof TimeoutError) return { kind: 'timeout', detail: `no answer within ${timeoutMs} ms` }
  const code = errorCode(err)
  if (code && definiteNetworkCodes.has(code)) {
    return { kind: 'error', definite: true, detail: `connection failed: ${code}` }
  }
  // The request may have reached the receiver (a reset or closed socket after sending).
  return { kind: 'timeout', detail: `connection lost: ${code ?? (err as Error)?.message ?? String(err)}` }
}

/** POSTs one signed webhook; never throws for the receiver's failure, it classifies it. */
export async function postWebhook(
  url: string,
  payload: WebhookPayload | Record<string, unknown>,
  o: PostWebhookOptions,
): Promise<WebhookResult> {
  let checked: Awaited<ReturnType<typeof resolveAllowed>>
  try {
    checked = await withTimeout(() => resolveAllowed(url, o.allowlist, { lookup: o.lookup }), o.timeoutMs)
  } catch (err) {
    const why =
      err instanceof TimeoutError ? `no address within ${o.timeoutMs} ms` : (errorCode(err) ?? String(err))
    return { kind: 'error', definite: true, detail: `resolution failed: ${why}` }
  }
  if (!checked.ok) {
    return {
      kind: 'refused',
      reason: checked.reason,
      ...(checked.addressClass ? { addressClass: checked.addressClass } : {}),
    }
  }
  const body = JSON.stringify(payload)
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'faultline-notifications-webhook/1',
    'faultline-delivery': o.deliveryId,
    [signatureHeader]: signPayload(o.secret, body, o.nowS),
  }
  if (o.idempotencyKey !== undefined) headers['idempotency-key'] = o.idempotencyKey
  const agent = new Agent({
    connect: { lookup: pinnedLookup(checked.address, checked.family), timeout: o.timeoutMs },
    pipelining: 0,
  })
  try {
    return await withTimeout(async (signal) => {
      const res = await request(checked.url, { method: 'POST', headers, body, signal, dispatcher: agent })
      const text = await readCapped(res.body, o.maxResponseBytes ?? defaultMaxResponseBytes)
      const status = res.statusCode
      if (status >= 200 && status < 300) return { kind: 'ok', status, messageId: messageIdOf(text) } as const
      if (status === 429) {
        return {
          kind: 'rate_limited',
          retryAfterMs: retryAfterMs(res.headers['retry-after']),
          detail: 'HTTP 429',
        } as const
      }
      const detail =
        status >= 300 && status < 400 ? `HTTP ${status} (redirects are not followed)` : `HTTP ${status}`
      return { kind: 'error', status, definite: true, detail } as const
    }, o.timeoutMs)
  } catch (err) {
    return classifyFailure(err, o.timeoutMs)
  } finally {
    agent.destroy().catch(() => {})
  }
}
