import type { Metrics } from '@faultline/kit/metrics'
import { installOpenApi } from '@faultline/kit/openapi'
import { createService, errorSchema, type Logger } from '@faultline/kit/service'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { DecisionEngine } from './decision-types.ts'
import type { MitigationState } from './mitigations.ts'
import { adminRoutes } from './routes/admin.ts'
import { decideRoutes } from './routes/decide.ts'
import { rulesRoutes } from './routes/rules.ts'
import type { RulesAdmin, RulesSource } from './rules/source.ts'

export interface AppDeps {
  engine: DecisionEngine
  /** The applied rules (GET /v1/rules, readiness) and how to change them (the admin routes). */
  rules: RulesSource
  rulesAdmin: RulesAdmin
  mitigations: MitigationState
  /** The kit's per-app registry (also serves /metrics), with the service's and the limiter's series. */
  metrics: Metrics
  /** Bytes; bigger /v1/decide bodies get 413 before they are parsed. */
  bodyLimitBytes: number
  /** Bytes; bigger PUT /admin/rules bodies get 413. */
  rulesBodyLimitBytes: number
  adminToken?: string
  logRequests?: boolean
  /** The process logger (server.ts passes the kit's); a silent one when absent. */
  logger?: Logger | FastifyBaseLogger
}

/**
 * Builds the decision service's HTTP app from ready-made dependencies on top of the service kit
 * (/healthz, /readyz, /metrics, the error and 404 handlers, 503 while shutting down). Never reads
 * the environment, never listens: server.ts does both, tests call `inject()`.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = createService({
    name: 'ratelimiter',
    ...(deps.logger ? { logger: deps.logger } : { level: 'silent' }),
    metrics: deps.metrics,
    requestLogging: deps.logRequests ?? false,
    fastify: {
      bodyLimit: deps.bodyLimitBytes,
      ajv: {
        customOptions: {
          // Unknown fields are an error naming the field, not silently dropped; no type coercion
          // ("5" is not a hitsAddend).
          removeAdditional: false,
          coerceTypes: false,
          allErrors: false,
        },
      },
    },
  })

  // Not ready until a ruleset is applied: without one every decision would be a 503.
  app.readiness.add('rules', async () => {
    if (!deps.rules.current()) throw new Error('no rules applied yet')
  })

  // JSON only on the decision route: any other content type is a 415, not a confusing 400. The
  // rules routes add their own YAML/text parser in their scope.
  app.removeContentTypeParser('text/plain')
  app.addSchema(errorSchema)
  await installOpenApi(app, {
    title: 'Faultline rate limiter: decision service',
    version: '1.0.0',
    description:
      "Exact rate-limit decisions in Redis (or Redis Cluster) against rules from a file, reloaded safely; the same decisions over Envoy's gRPC rate limit service protocol.",
    tags: [{ name: 'decide' }, { name: 'rules' }, { name: 'admin' }],
  })

  adminRoutes(app, {
    mitigations: deps.mitigations,
    ...(deps.adminToken ? { adminToken: deps.adminToken } : {}),
  })
  decideRoutes(app, { engine: deps.engine })
  await rulesRoutes(app, {
    rules: deps.rules,
    admin: deps.rulesAdmin,
    adminToken: deps.adminToken,
    rulesBodyLimitBytes: deps.rulesBodyLimitBytes,
  })
  return app
}
