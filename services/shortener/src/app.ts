import type { Metrics } from '@faultline/kit/metrics'
import { installOpenApi } from '@faultline/kit/openapi'
import { createService, type Logger, type ReadinessCheck } from '@faultline/kit/service'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { LinkResolver } from './link-resolver.ts'
import type { LinkService } from './link-service.ts'
import type { ShortenerMetrics } from './metrics.ts'
import type { MitigationState } from './mitigations.ts'
import { adminRoutes } from './routes/admin.ts'
import { linkRoutes } from './routes/links.ts'
import { type RedirectOptions, redirectRoutes } from './routes/redirect.ts'
import { errorSchema } from './schemas.ts'

export interface AppDeps {
  links: LinkService
  resolver: LinkResolver
  clicks: { record(code: string): void }
  mitigations: MitigationState
  /** The kit's per-app registry (also serves /metrics) and the shortener's own series on it. */
  metrics: Metrics
  shortenerMetrics: ShortenerMetrics
  /** Postgres reachability, used by /readyz only while readinessIndependentOfDeps is off (pm03). */
  postgresCheck: ReadinessCheck
  postgresCheckTimeoutMs: number
  redirect: RedirectOptions
  /** Bytes; bigger request bodies get 413 before they are parsed. */
  bodyLimitBytes: number
  adminToken?: string
  /** Log every request (two lines each); off by default, since at load it costs more than the redirect. */
  logRequests?: boolean
  /** The process logger (server.ts passes the kit's); a silent one when absent. */
  logger?: Logger | FastifyBaseLogger
  now?: () => number
}

/**
 * Builds the HTTP app from ready-made dependencies on top of the service kit (/healthz,
 * /readyz, /metrics, the error and 404 handlers, 503 while shutting down). Never reads the
 * environment, never listens: server.ts does both, tests call `inject()`.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const now = deps.now ?? Date.now
  const app = createService({
    name: 'shortener',
    ...(deps.logger ? { logger: deps.logger } : { level: 'silent' }),
    metrics: deps.metrics,
    requestLogging: deps.logRequests ?? false,
    fastify: {
      bodyLimit: deps.bodyLimitBytes,
      // A path segment longer than this is a 404 without any lookup (codes have ≤ 32 characters).
      routerOptions: { maxParamLength: 200, ignoreTrailingSlash: true },
      ajv: {
        customOptions: {
          // Unknown fields are an error naming the field, not silently dropped; no type coercion.
          removeAdditional: false,
          coerceTypes: false,
        },
      },
    },
  })

  // pm03: the naive readiness probe also asks Postgres, so one Postgres outage withdraws every
  // instance at once, including those that could serve cached codes. Flippable at run time.
  deps.mitigations.subscribe((m) => {
    if (m.readinessIndependentOfDeps) app.readiness.remove('postgres')
    else app.readiness.add('postgres', deps.postgresCheck, { timeoutMs: deps.postgresCheckTimeoutMs })
  })

  // JSON only: any other content type on a body is 415, not a confusing validation error.
  app.removeContentTypeParser('text/plain')
  app.addSchema(errorSchema)
  await installOpenApi(app, {
    title: 'Faultline URL shortener',
    version: '1.0.0',
    description:
      'Short links: redirects served from Redis, Postgres as the truth, clicks counted through Kafka.',
    tags: [{ name: 'links' }, { name: 'redirect' }, { name: 'admin' }],
  })

  adminRoutes(app, { mitigations: deps.mitigations, adminToken: deps.adminToken })
  linkRoutes(app, { links: deps.links, now })
  redirectRoutes(app, {
    resolver: deps.resolver,
    clicks: deps.clicks,
    metrics: deps.shortenerMetrics,
    redirect: deps.redirect,
    now,
  })
  return app
}
