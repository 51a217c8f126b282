/**
 * The rate-limit header fields of draft-ietf-httpapi-ratelimit-headers-11 (May 2026), §3 and §4:
 * two Structured Field Lists (RFC 9651), one Item per policy, the Item a String naming it. The
 * fields and parameters used here are those of -10 too; -11 renamed `t` from "reset" to
 * "effective window" (the seconds within which the client can use no more than `r`).
 *
 *   RateLimit-Policy: "api";q=100;w=60          quota q per window w (integer seconds ≥ 1)
 *   RateLimit: "api";r=42;t=17                  r quota units available, t the effective window
 *
 * Several policies are comma-separated members of one field. The legacy `X-RateLimit-*` trio
 * (no standard, but what most clients read) describes one policy: the most restrictive.
 */
import type { GuardedDecision, LimitRule } from '../types.ts'

export const draftRevision = 'draft-ietf-httpapi-ratelimit-headers-11'

/** An sf-string: printable ASCII with `"` and `\` escaped (rule names are checked to be ASCII). */
export function sfString(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`
}

/** Whole seconds, rounded up so a client that waits this long is never early (≥ `minS`). */
export function ceilSeconds(ms: number, minS = 0): number {
  return Math.max(minS, Math.ceil(ms / 1000))
}

/** One RateLimit-Policy member. `w` must be a non-zero integer (§3.1.3): sub-second windows say 1. */
export function policyItem(name: string, rule: LimitRule): string {
  return `${sfString(name)};q=${rule.limit};w=${ceilSeconds(rule.windowMs, 1)}`
}

/**
 * One RateLimit member. On a deny `t` is the retry-after (when this request's cost could pass),
 * so it never names a time earlier than `Retry-After` (§6); on an allow it is when the quota is
 * full again — the effective window itself for a fixed window, and for the sliding algorithms an
 * upper bound of it (a client keeping to `r` per `t` under-uses, never meets a 429).
 */
export function serviceLimitItem(name: string, decision: GuardedDecision): string {
  return quotedLimitItem(sfString(name), decision)
}

/**
 * {@link serviceLimitItem} for a name already quoted with {@link sfString}: the plugin quotes each
 * rule's name once, when it compiles the rule, instead of running the escape on every response.
 */
export function quotedLimitItem(quotedName: string, decision: GuardedDecision): string {
  const tMs = decision.allowed ? decision.resetMs : decision.retryAfterMs
  return `${quotedName};r=${Math.max(0, Math.floor(decision.remaining))};t=${ceilSeconds(tMs, decision.allowed ? 0 : 1)}`
}
