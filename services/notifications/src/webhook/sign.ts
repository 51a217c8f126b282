/**
 * The webhook signature, `Faultline-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
 * (Stripe's scheme): the timestamp is inside the MAC, so a receiver that checks its age refuses a
 * captured request replayed later, and the MAC covers the exact bytes sent, so a receiver must
 * verify the raw body before parsing it. Several `v1=` values are accepted (a sender rotating its
 * secret may sign with both).
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export const signatureHeader = 'faultline-signature'

/** A receiver accepts a signature at most this old (or this far in the future) by default. */
export const defaultToleranceS = 300

function mac(secret: string, timestampS: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestampS}.${body}`).digest('hex')
}

/** The header value signing `body` at `nowS` (unix seconds). */
export function signPayload(secret: string, body: string, nowS = Math.floor(Date.now() / 1000)): string {
  const t = Math.floor(nowS)
  return `t=${t},v1=${mac(secret, t, body)}`
}

export interface VerifyOptions {
  /** Refuse a timestamp further than this from now (seconds). */
  toleranceS?: number
  nowS?: number
}

export type VerifyResult = { ok: true; timestampS: number } | { ok: false; reason: string }

/** Parses `t=…,v1=…[,v1=…]`; null when malformed. */
function parseHeader(header: string): { t: number; v1: string[] } | null {
  let t: number | null = null
  const v1: string[] = []
  for (const item of header.split(',')) {
    const eq = item.indexOf('=')
    if (eq < 0) return null
    const key = item.slice(0, eq).trim()
    const value = item.slice(eq + 1).trim()
    if (key === 't') {
      if (!/^\d{1,12}$/.test(value) || t !== null) return null
      t = Number(value)
    } else if (key === 'v1') {
      if (!/^[0-9a-f]{64}$/i.test(value)) return null
      v1.push(value.toLowerCase())
    }
  }
  return t === null || v1.length === 0 ? null : { t, v1 }
}

/** Checks a signature header against the raw body: the MAC (timing-safe) and the timestamp's age. */
export function verifySignature(
  secret: string,
  body: string,
  header: string | undefined | null,
  o: VerifyOptions = {},
): VerifyResult {
  if (!header) return { ok: false, reason: 'no signature header' }
  const parsed = parseHeader(header)
  if (!parsed) return { ok: false, reason: 'malformed signature header' }
  const nowS = o.nowS ?? Math.floor(Date.now() / 1000)
  const toleranceS = o.toleranceS ?? defaultToleranceS
  if (Math.abs(nowS - parsed.t) > toleranceS) {
    return { ok: false, reason: `timestamp outside the tolerance of ${toleranceS} s` }
  }
  const expected = Buffer.from(mac(secret, parsed.t, body), 'hex')
  // Every candidate is compared (no early exit), each in constant time.
  let matched = false
  for (const candidate of parsed.v1) {
    if (timingSafeEqual(expected, Buffer.from(candidate, 'hex'))) matched = true
  }
  return matched ? { ok: true, timestampS: parsed.t } : { ok: false, reason: 'signature mismatch' }
}
