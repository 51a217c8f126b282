import { fileURLToPath } from 'node:url'
import { serviceEnv } from '@faultline/infra'
import {
  ConfigError,
  envBoolean,
  envList,
  httpEnv,
  loadServiceEnv,
  type ProcessSettings,
  processSettings,
  redisEnv,
  Type,
} from '@faultline/kit/config'
import { type Mitigations, switches } from './mitigations.ts'
import { type RulesStoreSettings, rulesStoreEnv, rulesStoreSettings } from './rules/store/env.ts'

export { ConfigError }

const int = (def: number, min: number, description: string, max?: number) =>
  Type.Integer({ default: def, minimum: min, ...(max === undefined ? {} : { maximum: max }), description })

/** The example rules shipped with the service, found from this file so any working directory works. */
export const defaultRulesFile = fileURLToPath(new URL('../rules/example.yaml', import.meta.url))

export const storeNames = ['redis', 'cluster'] as const
export type StoreName = (typeof storeNames)[number]

/**
 * Every variable the decision service reads (the mitigation switches come on top: `MITIGATIONS`
 * and `MITIGATION_<NAME>`, see mitigations.ts). With no environment at all it runs against
 * `./faultline infra up`: the single Redis through Toxiproxy and the example rules.
 */
export const configSchema = Type.Object({
  ...httpEnv,
  ...redisEnv,
  INSTANCE_ID: Type.String({
    default: '',
    description: 'name in logs and metrics; default <hostname>-<pid>',
  }),
  LOG_REQUESTS: envBoolean(false, 'log every request (costly under load)'),
  ADMIN_TOKEN: Type.String({
    default: '',
    description: 'bearer token for /admin/* (switches and rules); empty = open',
  }),
  RATELIMIT_STORE: Type.Enum([...storeNames], {
    default: 'redis',
    description: 'redis = REDIS_URL; cluster = the Redis Cluster seeded by REDIS_CLUSTER_NODES',
  }),
  REDIS_CLUSTER_NODES: Type.String({
    // The native cluster's six nodes, so RATELIMIT_STORE=cluster alone works against `infra up`.
    default: serviceEnv().REDIS_CLUSTER_NODES ?? '',
    pattern: '^(\\s*[^,\\s]+:\\d+\\s*(,\\s*[^,\\s]+:\\d+\\s*)*,?\\s*)?$',
    description: 'comma-separated host:port seed nodes of the Redis Cluster (RATELIMIT_STORE=cluster)',
  }),
  REDIS_KEY_PREFIX: Type.String({
    default: '',
    description: "prepended to the limiter's keys (tests, experiments)",
  }),
  RULES_FILE: Type.String({
    default: defaultRulesFile,
    minLength: 1,
    description:
      'the rules, YAML (.yaml/.yml) or JSON (.json); reloaded on SIGHUP or POST /admin/rules/reload',
  }),
  DECISION_DEADLINE_MS: int(
    20,
    1,
    'the most a decision waits for Redis while decisionDeadline is on',
    60_000,
  ),
  GRPC_PORT: int(0, 0, "Envoy's RateLimitService (gRPC) port; 0 = an ephemeral one", 65_535),
  LOCAL_FALLBACK_INSTANCES: int(
    1,
    1,
    'instances sharing the limits: a rule with failure_policy local holds limit/instances per process while Redis is away',
  ),
  BODY_LIMIT_BYTES: int(65_536, 1024, 'larger /v1/decide bodies get 413', 10 * 1024 * 1024),
  RULES_BODY_LIMIT_BYTES: int(1_048_576, 1024, 'larger PUT /admin/rules bodies get 413', 64 * 1024 * 1024),
  // How rules reach every instance through Redis (rules/store, pm07): write pacing, poll period, retention.
  ...rulesStoreEnv,
})

/** The typed, derived settings the code uses. */
export interface Config extends ProcessSettings {
  grpcPort: number

  store: StoreName
  redisUrl: string
  redisClusterNodes: string[]
  redisKeyPrefix: string

  rulesFile: string
  /** Rules distribution through Redis (rules/store/env.ts). */
  rulesStore: RulesStoreSettings
  decisionDeadlineMs: number
  localFallbackInstances: number
  bodyLimitBytes: number
  rulesBodyLimitBytes: number

  mitigations: Mitigations
}

/** Reads and checks the environment once; throws one ConfigError listing every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const { env: e, mitigations } = loadServiceEnv(configSchema, switches, env, (e) =>
    e.RATELIMIT_STORE === 'cluster' && envList(e.REDIS_CLUSTER_NODES).length === 0
      ? [{ name: 'REDIS_CLUSTER_NODES', reason: 'is required when RATELIMIT_STORE=cluster' }]
      : [],
  )
  const clusterNodes = envList(e.REDIS_CLUSTER_NODES)
  return {
    ...processSettings(e),
    grpcPort: e.GRPC_PORT,
    store: e.RATELIMIT_STORE,
    redisUrl: e.REDIS_URL,
    redisClusterNodes: clusterNodes,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    rulesFile: e.RULES_FILE,
    rulesStore: rulesStoreSettings(e),
    decisionDeadlineMs: e.DECISION_DEADLINE_MS,
    localFallbackInstances: e.LOCAL_FALLBACK_INSTANCES,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    rulesBodyLimitBytes: e.RULES_BODY_LIMIT_BYTES,
    mitigations,
  }
}
