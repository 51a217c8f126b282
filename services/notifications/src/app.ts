import type { Metrics } from '@faultline/kit/metrics'
import { installOpenApi } from '@faultline/kit/openapi'
import { createService, type Logger } from '@faultline/kit/service'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { MitigationState } from './mitigations.ts'
import { adminRoutes } from './routes/admin.ts'
import { type NotificationRouteDeps, notificationRoutes } from './routes/notifications.ts'
import { type RecipientRouteDeps, recipientRoutes } from './routes/recipients.ts'
import { errorSchema } from './routes/schemas.ts'
import { templateRoutes } from './routes/templates.ts'

export interface AppDeps extends NotificationRouteDeps, RecipientRouteDeps {
  mitigations: MitigationState
  /** The kit's per-app registry (also serves /metrics); the API's series are on it. */
  metrics: Metrics
  /** Bytes; a bigger request body gets 413 before it is parsed. */
  bodyLimitBytes: number
  adminToken?: string | undefined
  /** Log every request (two lines each); off by default, since at load it costs more than a request. */
  logRequests?: boolean
  /** The process logger (server.ts passes the kit's); a silent one when absent. */
  logger?: Logger | FastifyBaseLogger
}

/**
 * Builds the HTTP app from ready-made dependencies on top of the service kit (/healthz, /readyz,
 * /metrics, /admin/mitigations, the error and 404 handlers, 503 while shutting down). Never reads
 * the environment, never listens: server.ts does both, tests call `inject()` or listen on port 0.
 *
 * /readyz has no dependency checks on purpose (the shortener's pm03 lesson): if it asked Postgres
 * or Redis, one outage would withdraw every instance at once; a request that needs a store that
 * is down gets 503 + Retry-After from the kit's error handler instead.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = createService({
    name: 'notifications',
    ...(deps.logger ? { logger: deps.logger } : { level: 'silent' }),
    metrics: deps.metrics,
    requestLogging: deps.logRequests ?? false,
    fastify: {
      bodyLimit: deps.bodyLimitBytes,
      routerOptions: { maxParamLength: 300, ignoreTrailingSlash: true },
      ajv: {
        customOptions: {
          // Unknown fields are an error, not silently dropped; no type coercion of bodies.
          removeAdditional: false,
          coerceTypes: false,
          allErrors: false,
        },
      },
    },
  })
  // JSON only: any other content type on a body is 415, not a confusing validation error.
  app.removeContentTypeParser('text/plain')
  app.addSchema(errorSchema)
  await installOpenApi(app, {
    title: 'Faultline notifications',
    version: '1.0.0',
    description:
      'Notifications with an exactly-once effect: outbox to Kafka, per-channel BullMQ queues, providers with idempotency keys, preferences, quiet hours, retries, failover and a dead-letter queue.',
    tags: [{ name: 'notifications' }, { name: 'recipients' }, { name: 'templates' }, { name: 'admin' }],
  })

  adminRoutes(app, {
    mitigations: deps.mitigations,
    ...(deps.adminToken ? { adminToken: deps.adminToken } : {}),
  })
  notificationRoutes(app, deps)
  recipientRoutes(app, deps)
  templateRoutes(app, deps)
  return app
}
