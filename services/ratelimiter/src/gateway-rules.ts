/**
 * The gateway's rules: by default one rule from the GATEWAY_* variables (every caller, keyed by
 * `x-api-key`, else its IP), or a list from GATEWAY_RULES_FILE (YAML or JSON) for several limits
 * at once — per method, per path prefix, per header. A file is checked whole at boot: every
 * problem is reported with its path (`rules[1].limit.windowMs …`), and the gateway does not start.
 *
 *   - name: writes
 *     key: header:x-api-key          # or `ip`, or any `header:<name>` (its value, else the IP)
 *     limit: { algorithm: gcra, limit: 10, windowMs: 1000, burst: 20 }
 *     methods: [POST, PUT, DELETE]   # optional
 *     pathPrefix: /orders            # optional
 *     failurePolicy: closed          # optional; default GATEWAY_FAILURE_POLICY
 */
import { readFileSync } from 'node:fs'
import { ConfigError } from '@faultline/kit/config'
import { pluginOptionsProblems, type RateLimitRuleOptions } from '@faultline/ratelimit/fastify'
import { parse as parseYaml } from 'yaml'
import type { GatewayConfig } from './gateway-config.ts'
import { type FailurePolicyName, failurePolicies } from './rules/schema.ts'

/** A plugin rule plus the failure policy name the switches turn into a policy (failure-policy.ts). */
export interface GatewayRule {
  options: RateLimitRuleOptions
  failurePolicy: FailurePolicyName
}

/** The name of the rule the GATEWAY_* variables describe (in RateLimit-Policy and 429 bodies). */
export const defaultRuleName = 'gateway'
export const apiKeyHeader = 'x-api-key'

export function ruleFromEnv(config: GatewayConfig): GatewayRule {
  return {
    options: { name: defaultRuleName, key: `header:${apiKeyHeader}`, limit: { ...config.rule } },
    failurePolicy: config.failurePolicy,
  }
}

const fileFields = new Set(['name', 'key', 'limit', 'methods', 'pathPrefix', 'failurePolicy'])

function pathOf(request: { url: string }): string {
  const query = request.url.indexOf('?')
  return query === -1 ? request.url : request.url.slice(0, query)
}

/** One entry of the file as plugin options; problems found here are pushed to `problems`. */
function ruleFromEntry(
  entry: unknown,
  path: string,
  defaults: FailurePolicyName,
  problems: string[],
): GatewayRule | undefined {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    problems.push(`${path} must be an object`)
    return undefined
  }
  const e = entry as Record<string, unknown>
  for (const field of Object.keys(e)) {
    if (!fileFields.has(field))
      problems.push(`${path}.${field} is not a rule field (${[...fileFields].join(', ')})`)
  }
  const failurePolicy = e.failurePolicy ?? defaults
  if (!failurePolicies.includes(failurePolicy as FailurePolicyName)) {
    problems.push(`${path}.failurePolicy must be one of ${failurePolicies.join(', ')}`)
  }
  const prefix = e.pathPrefix
  if (prefix !== undefined && (typeof prefix !== 'string' || !prefix.startsWith('/'))) {
    problems.push(`${path}.pathPrefix must be a path starting with /`)
  }
  const match: NonNullable<RateLimitRuleOptions['match']> = {}
  if (e.methods !== undefined) match.methods = e.methods as string[]
  // The prefix is the rule's "tenant": requests outside it skip the rule.
  if (typeof prefix === 'string')
    match.tenant = (request) => (pathOf(request).startsWith(prefix) ? prefix : undefined)
  const options = {
    name: e.name,
    key: e.key,
    limit: e.limit,
    ...(Object.keys(match).length > 0 ? { match } : {}),
  } as RateLimitRuleOptions
  return { options, failurePolicy: failurePolicy as FailurePolicyName }
}

/** Every problem of a parsed rules file, or its rules. */
export function rulesFromDocument(
  document: unknown,
  defaults: FailurePolicyName,
): { ok: true; rules: GatewayRule[] } | { ok: false; problems: string[] } {
  if (!Array.isArray(document) || document.length === 0) {
    return { ok: false, problems: ['rules must be a non-empty list'] }
  }
  const problems: string[] = []
  const rules: GatewayRule[] = []
  document.forEach((entry, i) => {
    const rule = ruleFromEntry(entry, `rules[${i}]`, defaults, problems)
    if (rule) rules.push(rule)
  })
  if (problems.length === 0) {
    // The plugin's own validation: names, keys, the limit of each algorithm, methods.
    problems.push(
      ...pluginOptionsProblems({ limiter: { decide: () => {} }, rules: rules.map((r) => r.options) }),
    )
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, rules }
}

/** Reads GATEWAY_RULES_FILE; throws a ConfigError naming it and listing every problem. */
export function loadRulesFile(path: string, defaults: FailurePolicyName): GatewayRule[] {
  const fail = (reason: string) => new ConfigError([{ name: 'GATEWAY_RULES_FILE', reason }])
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw fail(`cannot read ${path}: ${(err as Error).message}`)
  }
  let document: unknown
  try {
    // YAML 1.2 is a superset of JSON, so one parser reads both.
    document = parseYaml(text)
  } catch (err) {
    throw fail(`${path} is not valid YAML or JSON: ${(err as Error).message}`)
  }
  const result = rulesFromDocument(document, defaults)
  if (!result.ok) throw fail(`${path}: ${result.problems.join('; ')}`)
  return result.rules
}

/** The headers the rules count by: a value longer than the limiter accepts is a 400, not a 500. */
export function keyHeaders(rules: GatewayRule[]): string[] {
  const headers = new Set<string>()
  for (const { options } of rules) {
    if (typeof options.key === 'string' && options.key.startsWith('header:')) {
      headers.add(options.key.slice('header:'.length).toLowerCase())
    }
  }
  return [...headers]
}
