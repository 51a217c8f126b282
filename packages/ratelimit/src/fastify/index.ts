/**
 * Rate limiting for a Fastify app: every rule that matches a request is decided (all at once,
 * each through its failure policy), the most restrictive answer wins, and the response carries
 * the draft-11 `RateLimit-Policy` / `RateLimit` fields (see ./headers.ts) on allow and on deny.
 * A deny is a 429 with `Retry-After` and a JSON body naming the rule.
 *
 * A degraded decision (Redis slow or gone; the failure policy answered) says nothing it does not
 * know: its policy is still listed in `RateLimit-Policy` (the policy did not change), but it gets
 * no `RateLimit` member and no `X-RateLimit-Remaining/Reset`, because no one knows the remaining
 * quota. A degraded deny (fail-closed, or the local bucket empty) still sends `Retry-After`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { validateCost } from '../algorithms/validation.ts'
import { type DecideContext, GuardedLimiter } from '../policy/guarded-limiter.ts'
import { hardenedFailurePolicy } from '../policy/types.ts'
import type { GuardedDecision } from '../types.ts'
import { ceilSeconds, policyItem, quotedLimitItem, sfString } from './headers.ts'
import {
  pluginOptionsProblems,
  RateLimitOptionsError,
  type RateLimitPluginOptions,
  type RateLimitRuleOptions,
} from './options.ts'

export { ceilSeconds, draftRevision, policyItem, serviceLimitItem } from './headers.ts'
export {
  pluginOptionsProblems,
  RateLimitOptionsError,
  type RateLimitPluginOptions,
  type RateLimitRuleOptions,
  type RuleKey,
} from './options.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The answering rule's decision (the most restrictive of those that applied), for handlers
     * that show the quota or measure admissions; `null` when no rule applied. A decision Redis
     * made carries `decidedAtUs`, the Redis time it was made at.
     */
    rateLimit: { rule: string; decision: GuardedDecision & { decidedAtUs?: number } } | null
  }
}

/** The body of a 429. */
export interface RateLimitedBody {
  statusCode: 429
  error: 'Too Many Requests'
  code: 'RATELIMIT_ERR_LIMITED'
  message: string
  /** The rule that denied (the one with the longest wait when several did). */
  rule: string
  /** Whole seconds, ≥ 1: the same value as `Retry-After`. */
  retryAfterS: number
}

interface Applied {
  rule: RateLimitRuleOptions
  policyMember: string
  /** The rule's name as an sf-string, quoted once (the `RateLimit` member starts with it). */
  quotedName: string
  decision: GuardedDecision
}

type KeyOf = (request: FastifyRequest) => string | undefined

function keyFunction(key: RateLimitRuleOptions['key']): KeyOf {
  if (typeof key === 'function') return key
  if (key === 'ip') return (request) => `ip:${request.ip}`
  const header = key.slice('header:'.length).toLowerCase()
  return (request) => {
    const value = request.headers[header]
    const first = Array.isArray(value) ? value[0] : value
    // The prefixes keep a header value from ever colliding with an address.
    return first ? `h:${first}` : `ip:${request.ip}`
  }
}

/**
 * A compiled rule: its matchers, key function, decision context and RateLimit-Policy member, so a
 * request pays for no parsing and no formatting that does not depend on it.
 */
interface CompiledRule {
  rule: RateLimitRuleOptions
  routes: Set<string> | undefined
  methods: Set<string> | undefined
  keyOf: KeyOf
  context: DecideContext
  policyMember: string
  quotedName: string
}

function compile(rule: RateLimitRuleOptions): CompiledRule {
  return {
    rule,
    routes: rule.match?.routes ? new Set(rule.match.routes) : undefined,
    methods: rule.match?.methods ? new Set(rule.match.methods.map((m) => m.toUpperCase())) : undefined,
    keyOf: keyFunction(rule.key),
    context: { rule: rule.name, ...(rule.failure ? { policy: rule.failure } : {}) },
    policyMember: policyItem(rule.name, rule.limit),
    quotedName: sfString(rule.name),
  }
}

/** The limiter key of `request` under `compiled`, or undefined when the rule does not apply. */
function keyFor(compiled: CompiledRule, request: FastifyRequest): string | undefined {
  if (compiled.methods && !compiled.methods.has(request.method)) return undefined
  if (compiled.routes) {
    const route = request.routeOptions.url
    if (route === undefined || !compiled.routes.has(route)) return undefined
  }
  let tenant: string | undefined
  if (compiled.rule.match?.tenant) {
    tenant = compiled.rule.match.tenant(request)
    if (tenant === undefined) return undefined
  }
  const key = compiled.keyOf(request)
  if (key === undefined || key === '') return undefined
  return tenant === undefined ? `${compiled.rule.name}:${key}` : `${compiled.rule.name}:t:${tenant}:${key}`
}

/** Denied beats allowed; among denies the longest wait; among allows the least remaining. */
function mostRestrictive(applied: Applied[]): Applied {
  let answer = applied[0] as Applied
  for (let i = 1; i < applied.length; i++) {
    const candidate = applied[i] as Applied
    const a = answer.decision
    const c = candidate.decision
    if (c.allowed !== a.allowed) {
      if (!c.allowed) answer = candidate
    } else if (!c.allowed) {
      if (c.retryAfterMs > a.retryAfterMs) answer = candidate
    } else if ((a.degraded && !c.degraded) || (!c.degraded && c.remaining < a.remaining)) {
      // A degraded allow knows no remaining quota, so a known one is the better answer.
      answer = candidate
    }
  }
  return answer
}

function setHeaders(
  reply: FastifyReply,
  applied: Applied[],
  answer: Applied,
  options: RateLimitPluginOptions,
): void {
  if ((options.draft ?? true) && applied.length === 1) {
    // One rule (the common case): the same fields without the arrays of the general case.
    reply.header('RateLimit-Policy', answer.policyMember)
    if (!answer.decision.degraded)
      reply.header('RateLimit', quotedLimitItem(answer.quotedName, answer.decision))
  } else if (options.draft ?? true) {
    reply.header('RateLimit-Policy', applied.map((a) => a.policyMember).join(', '))
    const known = applied.filter((a) => !a.decision.degraded)
    if (known.length > 0) {
      reply.header('RateLimit', known.map((a) => quotedLimitItem(a.quotedName, a.decision)).join(', '))
    }
  }
  if (options.legacyHeaders) {
    reply.header('X-RateLimit-Limit', String(answer.rule.limit.limit))
    if (!answer.decision.degraded) {
      const d = answer.decision
      reply.header('X-RateLimit-Remaining', String(Math.max(0, Math.floor(d.remaining))))
      reply.header(
        'X-RateLimit-Reset',
        String(ceilSeconds(d.allowed ? d.resetMs : d.retryAfterMs, d.allowed ? 0 : 1)),
      )
    }
  }
}

function limitedBody(answer: Applied, retryAfterS: number): RateLimitedBody {
  const name = answer.rule.name
  const message = answer.decision.degraded
    ? `rate limit "${name}" denied this request: its store is unavailable and the rule fails closed; retry in ${retryAfterS} s`
    : `rate limit "${name}" exceeded; retry in ${retryAfterS} s`
  return {
    statusCode: 429,
    error: 'Too Many Requests',
    code: 'RATELIMIT_ERR_LIMITED',
    message,
    rule: name,
    retryAfterS,
  }
}

/** Decides every rule that applies to `request`, all at once; empty when none does. */
async function decideAll(
  guarded: GuardedLimiter,
  rules: CompiledRule[],
  request: FastifyRequest,
): Promise<Applied[]> {
  const matched: Array<{ compiled: CompiledRule; key: string; cost: number }> = []
  for (const compiled of rules) {
    const key = keyFor(compiled, request)
    if (key === undefined) continue
    // Every cost is checked before any rule spends quota: a request refused with a 400 (naming
    // `cost`) must not have used up another rule's allowance.
    matched.push({ compiled, key, cost: costOf(compiled, request) })
  }
  const decideOne = async ({ compiled, key, cost }: (typeof matched)[number]): Promise<Applied> => {
    const { rule, context, policyMember, quotedName } = compiled
    return { rule, policyMember, quotedName, decision: await guarded.decide(key, rule.limit, cost, context) }
  }
  return Promise.all(matched.map(decideOne))
}

/** The cost of `request` under `compiled`, checked (a bad one is a 400 naming `cost`). */
function costOf(compiled: CompiledRule, request: FastifyRequest): number {
  const cost = compiled.rule.cost ? compiled.rule.cost(request) : 1
  validateCost(cost)
  return cost
}

/**
 * Answers `request` from the decisions of the rules that applied: `request.rateLimit`, the
 * headers, and on a deny the 429. Returns the reply when it sent one.
 */
function answer(
  request: FastifyRequest,
  reply: FastifyReply,
  applied: Applied[],
  options: RateLimitPluginOptions,
): FastifyReply | undefined {
  const chosen = mostRestrictive(applied)
  request.rateLimit = { rule: chosen.rule.name, decision: chosen.decision }
  setHeaders(reply, applied, chosen, options)
  if (chosen.decision.allowed) return undefined
  const retryAfterS = ceilSeconds(chosen.decision.retryAfterMs, 1)
  reply.code(429).header('Retry-After', String(retryAfterS))
  return reply.send(limitedBody(chosen, retryAfterS))
}

async function rateLimit(app: FastifyInstance, options: RateLimitPluginOptions): Promise<void> {
  const problems = pluginOptionsProblems(options)
  if (problems.length > 0) throw new RateLimitOptionsError(problems)
  const guarded =
    options.limiter instanceof GuardedLimiter
      ? options.limiter
      : new GuardedLimiter({
          limiter: options.limiter,
          policy: options.failure ?? hardenedFailurePolicy,
          ...(options.registry ? { registry: options.registry } : {}),
        })
  const rules = options.rules.map(compile)
  app.decorateRequest('rateLimit', null)

  const only = rules.length === 1 ? (rules[0] as CompiledRule) : undefined

  app.addHook('onRequest', async (request, reply) => {
    if (only) {
      // One rule is the common case: its decision is awaited here, with no array of matches and
      // no extra async layer (each costs a promise and a turn of the microtask queue per request).
      const key = keyFor(only, request)
      if (key === undefined) return
      const decision = await guarded.decide(key, only.rule.limit, costOf(only, request), only.context)
      const { rule, policyMember, quotedName } = only
      return answer(request, reply, [{ rule, policyMember, quotedName, decision }], options)
    }
    const applied = await decideAll(guarded, rules, request)
    if (applied.length === 0) return
    return answer(request, reply, applied, options)
  })
}

/**
 * Registers the limiter on the app (not encapsulated: it guards the routes of the app it is
 * registered on, including those registered after it).
 */
export const rateLimitPlugin = fp(rateLimit, { name: '@faultline/ratelimit', fastify: '5.x' })
