import { createMetrics, type Metrics } from '@faultline/kit/metrics'
import { type FailurePolicy, GuardedLimiter, RedisLimiter } from '@faultline/ratelimit'
import type { Cluster, Redis } from 'ioredis'
import type { AppDeps } from './app.ts'
import type { Config } from './config.ts'
import { limiterPrefix, RulesDecisionEngine } from './engine.ts'
import { failurePolicyFor } from './failure-policy.ts'
import { type MitigationState, SwitchState, switches } from './mitigations.ts'
import { type FailurePolicyName, failurePolicies } from './rules/schema.ts'
import type { ApplyOutcome, RulesAdmin, RulesInput, RulesSource } from './rules/source.ts'
import { observeRulesStore } from './rules/store/metrics.ts'
import { RedisRulesSource } from './rules/store/redis-rules-source.ts'

export interface Log {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface RatelimiterClients {
  /** The limiter's store: one Redis or a Redis Cluster (a fail-fast client from @faultline/ratelimit). */
  redis: Redis | Cluster
  /** Where the rules come from (a FileRulesSource; a Redis-backed source plugs in the same way). */
  rules: RulesSource & RulesAdmin
  log: Log
  /**
   * The live switches, when something built before this needs them too (server.ts: the Redis rules
   * source reads `rulesCompareAndSet`); default: a fresh state from `config.mitigations`.
   */
  mitigations?: MitigationState
}

/**
 * Wires the decision service from config and ready clients: what server.ts runs and what the
 * tests build, so both exercise the same object graph. Owns nothing it must close — the clients
 * and the rules source belong to the caller. The gRPC server (src/grpc) takes `engine`.
 */
export function createRatelimiter(config: Config, clients: RatelimiterClients) {
  const { redis, rules, log } = clients
  const metrics = createMetrics({ defaultLabels: { service: 'ratelimiter', instance: config.instanceId } })
  const mitigations: MitigationState = clients.mitigations ?? new SwitchState(switches, config.mitigations)
  // The three policies are rebuilt when a switch flips, not on every decision.
  let policies = {} as Record<FailurePolicyName, FailurePolicy>
  const settings = { deadlineMs: config.decisionDeadlineMs, instances: config.localFallbackInstances }
  mitigations.subscribe((current) => {
    policies = Object.fromEntries(
      failurePolicies.map((name) => [name, failurePolicyFor(name, current, settings)]),
    ) as Record<FailurePolicyName, FailurePolicy>
  })
  const limiter = new GuardedLimiter({
    limiter: new RedisLimiter({ redis, prefix: limiterPrefix(config.redisKeyPrefix) }),
    policy: () => policies.open,
    registry: metrics.registry,
  })

  const decisions = metrics.counter({
    name: 'ratelimiter_decisions_total',
    help: 'Descriptor statuses answered, by domain ("(unknown)" for a domain the rules lack) and code',
    labelNames: ['domain', 'code'],
  })
  // Each (domain, code) series bound once: resolving the labels on every status cost more than
  // the increment (the domains are the ruleset's, plus "(unknown)": a bounded set).
  const boundDecisions = new Map<string, { inc(): void }>()
  const engine = new RulesDecisionEngine({
    rules,
    limiter,
    policyFor: (name) => policies[name],
    metrics: {
      decision: (domain, code) => {
        const id = `${code}\u0000${domain}`
        let series = boundDecisions.get(id)
        if (!series) {
          series = decisions.labels({ domain, code })
          boundDecisions.set(id, series)
        }
        series.inc()
      },
    },
  })
  observeRules(metrics, rules)
  if (rules instanceof RedisRulesSource) observeRulesStore(metrics, rules)
  const rulesAdmin = countedRulesAdmin(rules, metrics, log)

  const appDeps: AppDeps = {
    engine,
    rules,
    rulesAdmin,
    mitigations,
    metrics,
    bodyLimitBytes: config.bodyLimitBytes,
    rulesBodyLimitBytes: config.rulesBodyLimitBytes,
    logRequests: config.logRequests,
    ...(config.adminToken ? { adminToken: config.adminToken } : {}),
  }
  return { appDeps, engine, limiter, mitigations, metrics, rulesAdmin }
}

export type Ratelimiter = ReturnType<typeof createRatelimiter>

/** `ratelimiter_rules_version`: the applied version, read at scrape time so it can never disagree. */
function observeRules(metrics: Metrics, rules: RulesSource): void {
  metrics.gauge({
    name: 'ratelimiter_rules_version',
    help: 'Version (generation) of the rules this process applies; 0 before any',
    collect() {
      this.set(rules.current()?.version ?? 0)
    },
  })
}

/**
 * The admin side of the rules source, with every outcome counted
 * (`ratelimiter_rules_applies_total{outcome}`) and logged, whoever triggered it: SIGHUP, the
 * reload route or a PUT.
 */
function countedRulesAdmin(admin: RulesAdmin, metrics: Metrics, log: Log): RulesAdmin {
  const applies = metrics.counter({
    name: 'ratelimiter_rules_applies_total',
    help: 'Rules reloads and PUTs by outcome: applied, unchanged, rejected (invalid), superseded, unavailable',
    labelNames: ['outcome'],
  })
  const record = (outcome: ApplyOutcome, trigger: string) => {
    applies.inc({ outcome: outcome.status === 'rejected' ? (outcome.cause ?? 'rejected') : outcome.status })
    if (outcome.status === 'rejected') {
      log.warn(
        {
          trigger,
          cause: outcome.cause,
          problems: outcome.problems,
          appliedVersion: outcome.current?.version,
        },
        'rules rejected; the applied rules stay in force',
      )
    } else {
      log.info({ trigger, version: outcome.applied.version, status: outcome.status }, 'rules applied')
    }
    return outcome
  }
  return {
    reload: async () => record(await admin.reload(), 'reload'),
    apply: async (input: RulesInput, origin: string) => record(await admin.apply(input, origin), origin),
  }
}
