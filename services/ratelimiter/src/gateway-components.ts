/**
 * Wires the gateway from its config and a ready Redis client: what gateway.ts runs and what the
 * tests build, so both exercise the same object graph. Owns nothing it must close; the client
 * belongs to the caller.
 */
import { createMetrics } from '@faultline/kit/metrics'
import { SwitchState } from '@faultline/kit/switches'
import { type FailurePolicy, GuardedLimiter, RedisLimiter } from '@faultline/ratelimit'
import type { Cluster, Redis } from 'ioredis'
import { failurePolicyFor } from './failure-policy.ts'
import type { GatewayAppDeps } from './gateway-app.ts'
import type { GatewayConfig } from './gateway-config.ts'
import { type GatewayRule, keyHeaders, ruleFromEnv } from './gateway-rules.ts'
import { type MitigationState, switches } from './mitigations.ts'
import { proxyUpstream, sampleUpstream } from './upstream.ts'

/** The limiter's namespace in Redis; a test prepends its random prefix. */
export const gatewayKeyPrefix = 'ratelimiter:gw'

export interface Gateway {
  appDeps: GatewayAppDeps
  mitigations: MitigationState
}

/**
 * Each rule's failure policy, recomputed when a switch flips (a PUT on /admin/mitigations) and
 * read on every decision, so the next request after the flip gets the new behaviour.
 */
function livePolicies(rules: GatewayRule[], mitigations: MitigationState, config: GatewayConfig) {
  const policies = new Map<string, FailurePolicy>()
  const options = { deadlineMs: config.decisionDeadlineMs, instances: config.instances }
  mitigations.subscribe((current) => {
    for (const rule of rules) {
      policies.set(rule.options.name, failurePolicyFor(rule.failurePolicy, current, options))
    }
  })
  const fallback = failurePolicyFor(config.failurePolicy, mitigations.current, options)
  return (ruleName: string): FailurePolicy => policies.get(ruleName) ?? fallback
}

export function createGateway(
  config: GatewayConfig,
  clients: { redis: Redis | Cluster },
  rules: GatewayRule[] = [ruleFromEnv(config)],
): Gateway {
  const metrics = createMetrics({
    defaultLabels: { service: 'ratelimiter-gateway', instance: config.instanceId },
  })
  const mitigations = new SwitchState(switches, config.mitigations)
  const limiter = new GuardedLimiter({
    limiter: new RedisLimiter({
      redis: clients.redis,
      prefix: `${config.redisKeyPrefix}${gatewayKeyPrefix}`,
    }),
    policy: livePolicies(rules, mitigations, config),
    registry: metrics.registry,
  })
  const upstream = config.upstreamUrl
    ? proxyUpstream({ baseUrl: config.upstreamUrl, timeoutMs: config.upstreamTimeoutMs })
    : sampleUpstream(config.instanceId)
  return {
    mitigations,
    appDeps: {
      limiter,
      rules: rules.map((rule) => rule.options),
      keyHeaders: keyHeaders(rules),
      upstream,
      mitigations,
      metrics,
      adminToken: config.adminToken,
      logRequests: config.logRequests,
      legacyHeaders: config.legacyHeaders,
    },
  }
}
