/**
 * The decision engine: one request → one status per descriptor, each from the rule the
 * descriptor matches (rules/match.ts), counted by the guarded limiter under the failure policy
 * the live switches and the rule's `failure_policy` give. The HTTP route and the gRPC server
 * both call it, so they answer the same for the same input.
 */
import { createHash } from 'node:crypto'
import type { DecideContext, FailurePolicy, GuardedDecision, LimitRule } from '@faultline/ratelimit'
import type {
  DecideRequest,
  DecideResponse,
  DecisionEngine,
  Descriptor,
  DescriptorEntry,
  DescriptorStatus,
} from './decision-types.ts'
import { NoRulesError } from './errors.ts'
import type { CompiledLimit } from './rules/compile.ts'
import { matchDescriptor } from './rules/match.ts'
import type { FailurePolicyName } from './rules/schema.ts'
import type { AppliedRules, RulesSource } from './rules/source.ts'

/** The part of `GuardedLimiter` the engine uses. */
export interface GuardedDecide {
  decide(key: string, rule: LimitRule, cost: number, context: DecideContext): Promise<GuardedDecision>
}

export interface EngineMetrics {
  /** `ratelimiter_decisions_total{domain, code}`, one per status. */
  decision(domain: string, code: DescriptorStatus['code']): void
}

export interface EngineOptions {
  rules: RulesSource
  limiter: GuardedDecide
  /** The failure policy of a rule's `failure_policy`, read on every decision (switches flip it). */
  policyFor: (name: FailurePolicyName) => FailurePolicy
  metrics?: EngineMetrics
}

/**
 * Every decision shares one breaker and one retry budget: all rules count in the same Redis, so
 * when it fails it fails for all of them, and one rule's failures should spare the others the wait.
 */
export const limiterRuleName = 'redis'

/** Logical keys longer than this are hashed: a request may carry 8 entries of 1 KiB values. */
const maxReadableKeyLength = 200

export class RulesDecisionEngine implements DecisionEngine {
  readonly #options: EngineOptions

  constructor(options: EngineOptions) {
    this.#options = options
  }

  async decide(request: DecideRequest): Promise<DecideResponse> {
    const applied = this.#options.rules.current()
    if (!applied) throw new NoRulesError()
    const cost = request.hitsAddend ?? 1
    const { descriptors } = request
    // One descriptor is the common case: awaited alone, with no array of promises.
    const statuses =
      descriptors.length === 1
        ? [await this.#decideOne(applied, request.domain, descriptors[0] as Descriptor, cost)]
        : await Promise.all(
            descriptors.map((entries) => this.#decideOne(applied, request.domain, entries, cost)),
          )
    const overall = statuses.some((status) => status.code === 'OVER_LIMIT') ? 'OVER_LIMIT' : 'OK'
    const metrics = this.#options.metrics
    if (metrics) {
      // The label is bounded by the ruleset: any domain it lacks is counted as one series.
      const label = applied.ruleset.domains.has(request.domain) ? request.domain : '(unknown)'
      for (const status of statuses) metrics.decision(label, status.code)
    }
    return { overall, statuses, rulesVersion: applied.version }
  }

  async #decideOne(
    applied: AppliedRules,
    domain: string,
    entries: readonly DescriptorEntry[],
    cost: number,
  ): Promise<DescriptorStatus> {
    const matched = matchDescriptor(applied.ruleset, domain, entries)
    // Envoy's answer for a descriptor no rule limits: OK, with no limit to report.
    if (!matched) return { code: 'OK', remaining: 0, resetS: 0 }
    const policy = this.#options.policyFor(matched.failurePolicy)
    const decision = await this.#options.limiter.decide(
      limiterKey(domain, entries, matched),
      matched.rule,
      cost,
      {
        rule: limiterRuleName,
        policy,
      },
    )
    const status: DescriptorStatus = {
      code: decision.allowed ? 'OK' : 'OVER_LIMIT',
      limit: matched.limit,
      remaining: decision.remaining,
      resetS: Math.ceil(decision.resetMs / 1000),
    }
    if (decision.degraded) status.degraded = decision.degraded
    return status
  }
}

/** The rule's part of a limiter key, made once per compiled rule (a reload compiles new ones). */
const ruleKeyParts = new WeakMap<CompiledLimit, string>()
function ruleKeyPart(matched: CompiledLimit): string {
  let part = ruleKeyParts.get(matched)
  if (part === undefined) {
    part = `${encodeURIComponent(matched.id)}~${matched.rule.algorithm}~${matched.rule.windowMs}`
    ruleKeyParts.set(matched, part)
  }
  return part
}

/** The limiter's keys: `<REDIS_KEY_PREFIX>ratelimiter:{<algorithm>:<descriptor key>}:<suffix>`. */
export function limiterPrefix(redisKeyPrefix: string): string {
  return `${redisKeyPrefix}ratelimiter`
}

/**
 * The key a descriptor counts under: its domain, every entry of the request (a wildcard rule
 * counts each value on its own, as in Envoy), and the rule with its algorithm and window (a reload
 * that changes either starts a fresh counter instead of reading another algorithm's state; one
 * that only changes the limit keeps counting). Parts are URI-encoded, so no two descriptors share
 * a key and no `{`/`}` reaches the limiter's hash tag; a long key is hashed.
 */
export function limiterKey(
  domain: string,
  entries: readonly DescriptorEntry[],
  matched: CompiledLimit,
): string {
  let key = encodeURIComponent(domain)
  for (const entry of entries) key += `|${encodeURIComponent(entry.key)}=${encodeURIComponent(entry.value)}`
  key += `|${ruleKeyPart(matched)}`
  if (key.length <= maxReadableKeyLength) return key
  return `sha256=${createHash('sha256').update(key).digest('base64url')}`
}
