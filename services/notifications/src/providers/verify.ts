/**
 * The webhook receiver's signature check: helper E's `verifySignature` (src/webhook/sign.ts, the
 * same scheme the webhook sender signs with), wrapped as the receiver's `HookVerifier`.
 */
import { verifySignature } from '../webhook/sign.ts'
import type { HookVerifier } from './app.ts'

export function hookVerifier(secret: string): HookVerifier {
  return (rawBody, signature) => {
    const result = verifySignature(secret, rawBody, signature)
    return result.ok ? { ok: true } : { ok: false, reason: result.reason }
  }
}
