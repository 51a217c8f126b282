/**
 * The rate limit header fields of draft-ietf-httpapi-ratelimit-headers-09 (March 2025) for
 * Envoy's `response_headers_to_add`, so the client behind an Envoy sees the same quota
 * information a client of the Fastify plugin sees:
 *
 *   RateLimit-Policy: "api-key";q=100;w=1
 *   RateLimit: "api-key";r=42;t=1
 *
 * One list member per descriptor that matched a rule. The policy name is the rule's name, else
 * `descriptor-<index>`: never the descriptor's values, which may be API keys the response must
 * not echo back.
 */
import type { DecideResponse, DescriptorStatus } from '../decision-types.ts'
import type { RlsHeader } from './rls-mapping.ts'

/** A structured-field string needs printable ASCII; anything else in a rule name is dropped. */
function policyName(status: DescriptorStatus, index: number): string {
  const name = (status.limit?.name ?? '').replace(/[^\x20-\x7e]|["\\]/g, '')
  return name.length > 0 ? name : `descriptor-${index}`
}

function wholeSeconds(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.ceil(n) : 0
}

/** Both fields, or none when no descriptor matched a rule (there is no quota to advertise). */
export function draftRateLimitHeaders(decision: DecideResponse): RlsHeader[] {
  const policies: string[] = []
  const states: string[] = []
  decision.statuses.forEach((status, index) => {
    if (!status.limit) return
    const name = `"${policyName(status, index)}"`
    policies.push(
      `${name};q=${Math.floor(status.limit.requestsPerUnit)};w=${wholeSeconds(status.limit.windowMs / 1000)}`,
    )
    states.push(`${name};r=${Math.max(0, Math.floor(status.remaining))};t=${wholeSeconds(status.resetS)}`)
  })
  if (policies.length === 0) return []
  return [
    { key: 'RateLimit-Policy', value: policies.join(', ') },
    { key: 'RateLimit', value: states.join(', ') },
  ]
}
