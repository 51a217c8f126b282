/**
 * The plugin's options and their validation. Every problem is found and reported at once, each
 * naming its field (`rules[1].key must be …`), when the plugin is registered: a bad rule stops the
 * app from starting instead of surfacing as a 500 on the first matching request.
 */
import type { FastifyRequest } from 'fastify'
import type { Registry } from 'prom-client'
import { RateLimitInputError, validateRule } from '../algorithms/validation.ts'
import { type FailurePolicy, failurePolicyProblems } from '../policy/types.ts'
import type { Limiter, LimitRule } from '../types.ts'

export type RuleKey = 'ip' | `header:${string}` | ((request: FastifyRequest) => string | undefined)

export interface RateLimitRuleOptions {
  /** Names the policy in the headers, the 429 body and the metrics: letters, digits, `.`, `_`, `-`, `:`. */
  name: string
  /** Which requests the rule applies to; every listed criterion must match. Absent: all requests. */
  match?: {
    /** Route url patterns as declared (`/items/:id`), compared with the route the request matched. */
    routes?: string[]
    /** HTTP methods, any case. */
    methods?: string[]
    /**
     * The request's tenant, or `undefined` when the rule does not apply to it. The tenant becomes
     * part of the key, so each tenant has its own quota (`req => req.headers['x-plan'] === 'free' ?
     * 'free' : undefined` limits free-plan clients only).
     */
    tenant?: (request: FastifyRequest) => string | undefined
  }
  /**
   * Who is counted: `ip` (the client address Fastify reports, mind `trustProxy`), `header:<name>`
   * (the header's value, else the client IP, so leaving the header out is no way around the
   * limit), or a function (returning `undefined` exempts the request from this rule).
   */
  key: RuleKey
  limit: LimitRule
  /** Cost units of a request (default 1), e.g. the number of items a batch call creates. */
  cost?: (request: FastifyRequest) => number
  /** This rule's failure policy, instead of the limiter's (or the plugin's `failure`). */
  failure?: FailurePolicy
}

export interface RateLimitPluginOptions {
  /** A `RedisLimiter`, or a `GuardedLimiter` around one (then its policy and metrics are used). */
  limiter: Limiter
  rules: RateLimitRuleOptions[]
  /**
   * The failure policy of rules without their own, when `limiter` is not a `GuardedLimiter`
   * (a function is read on every decision). Default: `hardenedFailurePolicy`.
   */
  failure?: FailurePolicy | ((ruleName: string) => FailurePolicy)
  /** Where the `ratelimit_*` series go, when the plugin wraps `limiter` itself. */
  registry?: Registry
  /** Also send `X-RateLimit-Limit`, `-Remaining`, `-Reset`. Default false. */
  legacyHeaders?: boolean
  /** Send the draft-11 `RateLimit-Policy` and `RateLimit` fields. Default true. */
  draft?: boolean
}

/** Thrown at registration; `problems` lists every bad field. */
export class RateLimitOptionsError extends Error {
  readonly code = 'RATELIMIT_ERR_BAD_OPTIONS'
  readonly problems: string[]

  constructor(problems: string[]) {
    super(`invalid rateLimitPlugin options: ${problems.join('; ')}`)
    this.name = 'RateLimitOptionsError'
    this.problems = problems
  }
}

const ruleNamePattern = /^[A-Za-z0-9._:-]{1,64}$/
/** RFC 9110 token characters: what a header name may contain. */
const headerNamePattern = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const httpMethods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'])

const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((v) => typeof v === 'string')

export function pluginOptionsProblems(options: unknown): string[] {
  if (typeof options !== 'object' || options === null) return ['options must be an object']
  const o = options as Record<string, unknown>
  const problems: string[] = []
  if (typeof (o.limiter as Limiter | undefined)?.decide !== 'function') {
    problems.push('limiter must be a Limiter (an object with decide())')
  }
  if (o.failure !== undefined && typeof o.failure !== 'function') {
    problems.push(...failurePolicyProblems(o.failure, 'failure'))
  }
  for (const flag of ['legacyHeaders', 'draft'] as const) {
    if (o[flag] !== undefined && typeof o[flag] !== 'boolean') problems.push(`${flag} must be a boolean`)
  }
  if (!Array.isArray(o.rules) || o.rules.length === 0) {
    problems.push('rules must be a non-empty array')
    return problems
  }
  const seen = new Set<string>()
  o.rules.forEach((rule, i) => {
    problems.push(...ruleProblems(rule, `rules[${i}]`))
    const name = (rule as { name?: unknown } | null)?.name
    if (typeof name === 'string') {
      if (seen.has(name)) problems.push(`rules[${i}].name "${name}" is used by another rule`)
      seen.add(name)
    }
  })
  return problems
}

function ruleProblems(rule: unknown, path: string): string[] {
  if (typeof rule !== 'object' || rule === null) return [`${path} must be an object`]
  const r = rule as Record<string, unknown>
  const problems: string[] = []
  if (typeof r.name !== 'string' || !ruleNamePattern.test(r.name)) {
    problems.push(`${path}.name must be 1–64 letters, digits, '.', '_', '-' or ':'`)
  }
  const key = r.key
  const keyOk =
    key === 'ip' ||
    typeof key === 'function' ||
    (typeof key === 'string' && key.startsWith('header:') && headerNamePattern.test(key.slice(7)))
  if (!keyOk) problems.push(`${path}.key must be 'ip', 'header:<name>' or a function of the request`)
  try {
    validateRule(r.limit as LimitRule)
  } catch (err) {
    if (!(err instanceof RateLimitInputError)) throw err
    problems.push(`${path}.limit${err.field.replace(/^rule/, '')} ${err.message.slice(err.field.length + 1)}`)
  }
  if (r.cost !== undefined && typeof r.cost !== 'function') problems.push(`${path}.cost must be a function`)
  if (r.failure !== undefined) problems.push(...failurePolicyProblems(r.failure, `${path}.failure`))
  problems.push(...matchProblems(r.match, `${path}.match`))
  return problems
}

function matchProblems(match: unknown, path: string): string[] {
  if (match === undefined) return []
  if (typeof match !== 'object' || match === null) return [`${path} must be an object`]
  const m = match as Record<string, unknown>
  const problems: string[] = []
  if (
    m.routes !== undefined &&
    !(isStringArray(m.routes) && m.routes.every((route) => route.startsWith('/')))
  ) {
    problems.push(`${path}.routes must be an array of route patterns starting with /`)
  }
  if (
    m.methods !== undefined &&
    !(isStringArray(m.methods) && m.methods.every((x) => httpMethods.has(x.toUpperCase())))
  ) {
    problems.push(`${path}.methods must be an array of HTTP methods (${[...httpMethods].join(', ')})`)
  }
  if (m.tenant !== undefined && typeof m.tenant !== 'function')
    problems.push(`${path}.tenant must be a function`)
  return problems
}
