/**
 * The rulesets pm07 pushes, and the calls it makes to one instance: PUT /admin/rules, and whether
 * an apply is in progress (`ratelimiter_rules_apply_in_progress` on /metrics), which is how the
 * race pauses an applier mid-apply deterministically instead of at a guessed moment.
 */
import { fileURLToPath } from 'node:url'
import { parsePrometheusText } from '@faultline/lab'

/** Absolute: the lab starts each service with its own package as the working directory. */
export const bootRulesFile = fileURLToPath(new URL('./pm07-rules.yaml', import.meta.url))

/** What the load decides: `pm07` / `tenant=<key>` (a limit of 1000/s per tenant in every version). */
export const pm07Limit = { domain: 'pm07', descriptorKey: 'tenant' }

/**
 * Domains per pushed ruleset besides pm07's own. With RULES_APPLY_BATCH=2 and
 * RULES_APPLY_PAUSE_MS=40 (the experiment's env) an apply writes 20 batches over ~0.8 s: what a
 * push of a few thousand domains takes at the service's default pacing (100 per batch, 5 ms apart)
 * on a busy Redis, long enough to stop an applier in the middle of it.
 */
export const fillerDomains = 39

/** Version `version` of the pushed rules: pm07's limit plus filler domains whose limits name the version. */
export function rulesetOf(version: number) {
  const filler = Array.from({ length: fillerDomains }, (_, i) => ({
    domain: `pm07-filler-${i}`,
    descriptors: [{ key: 'tenant', rate_limit: { requests_per_unit: version, unit: 'second' } }],
  }))
  const own = {
    domain: pm07Limit.domain,
    descriptors: [
      {
        key: pm07Limit.descriptorKey,
        rate_limit: { name: 'pm07-per-tenant', requests_per_unit: 1000, unit: 'second' },
      },
    ],
  }
  return { version, domains: [own, ...filler] }
}

export interface PutAnswer {
  /** HTTP status, 0 when no answer came (connection refused, timeout). */
  status: number
  body: string
}

/** PUT /admin/rules with `ruleset` as JSON; never throws. */
export async function putRules(baseUrl: string, ruleset: object, signal?: AbortSignal): Promise<PutAnswer> {
  try {
    const response = await fetch(new URL('/admin/rules', baseUrl), {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ruleset),
      signal: AbortSignal.any([AbortSignal.timeout(15_000), ...(signal ? [signal] : [])]),
    })
    return { status: response.status, body: await response.text() }
  } catch (err) {
    return { status: 0, body: String(err) }
  }
}

/** The version GET /v1/rules reports (0 = an empty ruleset), or undefined when no answer came in time. */
export async function appliedVersionOf(baseUrl: string, timeoutMs: number): Promise<number | undefined> {
  try {
    const response = await fetch(new URL('/v1/rules', baseUrl), { signal: AbortSignal.timeout(timeoutMs) })
    if (!response.ok) return undefined
    return ((await response.json()) as { version: number }).version
  } catch {
    return undefined
  }
}

/** Polls /metrics until `ratelimiter_rules_apply_in_progress` is ≥ 1; false if it never is within `timeoutMs`. */
export async function waitUntilApplying(
  baseUrl: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<boolean> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until && !signal.aborted) {
    try {
      const response = await fetch(new URL('/metrics', baseUrl), { signal: AbortSignal.timeout(500) })
      const samples = parsePrometheusText(await response.text())
      if (samples.some((s) => s.name === 'ratelimiter_rules_apply_in_progress' && s.value >= 1)) return true
    } catch {
      // A scrape that failed says nothing: ask again.
    }
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return false
}
