/**
 * The demo gateway's environment, checked once at boot: a bad deployment fails with every wrong
 * variable in one message (the kit's `ConfigError`), never with the first one per restart.
 * Defaults connect to the native topology through Toxiproxy and give every caller the exact
 * sliding log at 100 requests per second.
 */
import {
  ConfigError,
  type ConfigIssue,
  envBoolean,
  envList,
  httpEnv,
  loadServiceEnv,
  type ProcessSettings,
  processSettings,
  redisEnv,
  Type,
} from '@faultline/kit/config'
import { type AlgorithmName, algorithmNames, RateLimitInputError, validateRule } from '@faultline/ratelimit'
import { type Mitigations, switches } from './mitigations.ts'
import { type FailurePolicyName, failurePolicies } from './rules/schema.ts'

export { ConfigError }

const int = (def: number, min: number, description: string) =>
  Type.Integer({ default: def, minimum: min, description })

/** Every variable the gateway reads (plus the switches: `MITIGATIONS`, `MITIGATION_<NAME>`). */
export const gatewayConfigSchema = Type.Object({
  ...httpEnv,
  ...redisEnv,
  INSTANCE_ID: Type.String({
    default: '',
    description: 'name in logs, metrics and answers; default <hostname>-<pid>',
  }),
  PUBLIC_BASE_URL: Type.String({
    default: '',
    description: 'where the gateway is published; default http://HOST:PORT',
  }),
  LOG_REQUESTS: envBoolean(false, 'log every request (costly under load)'),
  ADMIN_TOKEN: Type.String({ default: '', description: 'bearer token for /admin/*; empty = open' }),
  RATELIMIT_STORE: Type.Enum(['redis', 'cluster'], {
    default: 'redis',
    description: 'redis = REDIS_URL; cluster = the Redis Cluster seeded by REDIS_CLUSTER_NODES',
  }),
  REDIS_CLUSTER_NODES: Type.String({
    default: '',
    pattern: '^(\\s*[^,\\s]+:\\d+\\s*(,\\s*[^,\\s]+:\\d+\\s*)*,?\\s*)?$',
    description: 'comma-separated host:port seed nodes (RATELIMIT_STORE=cluster)',
  }),
  REDIS_KEY_PREFIX: Type.String({ default: '', description: "prepended to the limiter's keys (tests)" }),
  DECISION_DEADLINE_MS: int(
    20,
    1,
    'the most a request waits for a decision from Redis (decisionDeadline on)',
  ),
  GATEWAY_LIMIT: int(100, 1, 'requests each caller may make per window'),
  GATEWAY_WINDOW_MS: int(1000, 1, 'the window of GATEWAY_LIMIT, in milliseconds'),
  GATEWAY_ALGORITHM: Type.Enum([...algorithmNames], {
    default: 'sliding-log',
    description: 'how the limit is counted',
  }),
  GATEWAY_FAILURE_POLICY: Type.Enum([...failurePolicies], {
    default: 'open',
    description: 'the answer while Redis is slow or gone: admit, deny, or a local bucket',
  }),
  LOCAL_FALLBACK_INSTANCES: int(
    1,
    1,
    'instances sharing the limit: with failure policy local each holds limit/instances while Redis is away',
  ),
  GATEWAY_RULES_FILE: Type.String({
    default: '',
    description: 'a YAML or JSON list of plugin rules replacing the single GATEWAY_* rule',
  }),
  UPSTREAM_URL: Type.String({
    default: '',
    pattern: '^(https?://[^\\s/]+(/[^\\s]*)?)?$',
    description: 'proxy every request here; empty = the built-in sample upstream',
  }),
  UPSTREAM_TIMEOUT_MS: int(10_000, 1, 'a proxied request gives up after this long (502)'),
  GATEWAY_LEGACY_HEADERS: envBoolean(
    false,
    'also send the legacy X-RateLimit-Limit / -Remaining / -Reset trio beside RateLimit-Policy and RateLimit',
  ),
})

export interface GatewayConfig extends ProcessSettings {
  publicBaseUrl: string
  store: 'redis' | 'cluster'
  redisUrl: string
  redisClusterNodes: string[]
  redisKeyPrefix: string
  decisionDeadlineMs: number
  /** The rule every caller gets, unless `rulesFile` gives a list. */
  rule: { algorithm: AlgorithmName; limit: number; windowMs: number }
  failurePolicy: FailurePolicyName
  instances: number
  rulesFile: string | undefined
  upstreamUrl: string | undefined
  upstreamTimeoutMs: number
  /** GATEWAY_LEGACY_HEADERS */
  legacyHeaders: boolean
  mitigations: Mitigations
}

const ruleVariable: Record<string, string> = {
  'rule.algorithm': 'GATEWAY_ALGORITHM',
  'rule.limit': 'GATEWAY_LIMIT',
  'rule.windowMs': 'GATEWAY_WINDOW_MS',
}

/** What the limiter itself refuses in the rule (a sliding log's most entries, the longest window). */
function ruleIssues(algorithm: AlgorithmName, limit: number, windowMs: number): ConfigIssue[] {
  try {
    validateRule({ algorithm, limit, windowMs })
    return []
  } catch (err) {
    if (!(err instanceof RateLimitInputError)) throw err
    const reason = err.message.slice(err.field.length + 1)
    return [{ name: ruleVariable[err.field] ?? 'GATEWAY_LIMIT', reason }]
  }
}

/** Reads and checks the environment once; throws one ConfigError listing every bad variable. */
export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  const { env: e, mitigations } = loadServiceEnv(gatewayConfigSchema, switches, env, (e) => [
    ...(e.RATELIMIT_STORE === 'cluster' && envList(e.REDIS_CLUSTER_NODES).length === 0
      ? [{ name: 'REDIS_CLUSTER_NODES', reason: 'is required when RATELIMIT_STORE is cluster' }]
      : []),
    ...ruleIssues(e.GATEWAY_ALGORITHM as AlgorithmName, e.GATEWAY_LIMIT, e.GATEWAY_WINDOW_MS),
  ])
  const listenHost = e.HOST === '0.0.0.0' || e.HOST === '::' ? '127.0.0.1' : e.HOST
  return {
    ...processSettings(e),
    publicBaseUrl: (e.PUBLIC_BASE_URL || `http://${listenHost}:${e.PORT}`).replace(/\/+$/, ''),
    store: e.RATELIMIT_STORE as 'redis' | 'cluster',
    redisUrl: e.REDIS_URL,
    redisClusterNodes: envList(e.REDIS_CLUSTER_NODES),
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    decisionDeadlineMs: e.DECISION_DEADLINE_MS,
    rule: {
      algorithm: e.GATEWAY_ALGORITHM as AlgorithmName,
      limit: e.GATEWAY_LIMIT,
      windowMs: e.GATEWAY_WINDOW_MS,
    },
    failurePolicy: e.GATEWAY_FAILURE_POLICY as FailurePolicyName,
    instances: e.LOCAL_FALLBACK_INSTANCES,
    rulesFile: e.GATEWAY_RULES_FILE || undefined,
    upstreamUrl: e.UPSTREAM_URL ? e.UPSTREAM_URL.replace(/\/+$/, '') : undefined,
    upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_MS,
    legacyHeaders: e.GATEWAY_LEGACY_HEADERS,
    mitigations,
  }
}
