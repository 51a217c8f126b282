/**
 * The rate limit header fields for Envoy's `response_headers_to_add`, built by the Fastify
 * plugin's own formatters (draft-ietf-httpapi-ratelimit-headers-11, `draftRevision`), so a client
 * behind an Envoy sees the same quota information a client of the plugin sees:
 *
 *   RateLimit-Policy: "api-key";q=100;w=1
 *   RateLimit: "api-key";r=42;t=1
 *
 * One list member per descriptor that matched a rule. The policy name is the rule's name, else
 * `descriptor-<index>`: never the descriptor's values, which may be API keys the response must
 * not echo back.
 */
import { policyItem, serviceLimitItem } from '@faultline/ratelimit/fastify'
import type { DecideResponse, DescriptorStatus } from '../decision-types.ts'
import type { RlsHeader } from './rls-mapping.ts'

/** A structured-field string needs printable ASCII; anything else in a rule name is dropped. */
function policyName(status: DescriptorStatus, index: number): string {
  const name = (status.limit?.name ?? '').replace(/[^\x20-\x7e]/g, '')
  return name.length > 0 ? name : `descriptor-${index}`
}

/** Both fields, or none when no descriptor matched a rule (there is no quota to advertise). */
export function draftRateLimitHeaders(decision: DecideResponse): RlsHeader[] {
  const policies: string[] = []
  const states: string[] = []
  decision.statuses.forEach((status, index) => {
    const limit = status.limit
    if (!limit) return
    const name = policyName(status, index)
    const resetMs = Math.max(0, status.resetS * 1000)
    policies.push(
      policyItem(name, {
        algorithm: limit.algorithm,
        limit: limit.requestsPerUnit,
        windowMs: limit.windowMs,
      }),
    )
    states.push(
      serviceLimitItem(name, {
        allowed: status.code === 'OK',
        limit: limit.requestsPerUnit,
        remaining: status.remaining,
        resetMs,
        retryAfterMs: resetMs,
      }),
    )
  })
  if (policies.length === 0) return []
  return [
    { key: 'RateLimit-Policy', value: policies.join(', ') },
    { key: 'RateLimit', value: states.join(', ') },
  ]
}
