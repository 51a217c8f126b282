import type { Metrics } from '@faultline/kit/metrics'
import { installOpenApi } from '@faultline/kit/openapi'
import { createService, type Logger } from '@faultline/kit/service'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { MitigationState } from './mitigations.ts'
import { adminRoutes } from './routes/admin.ts'
import { followRoutes } from './routes/follows.ts'
import { postRoutes } from './routes/posts.ts'
import { errorSchema } from './routes/schemas.ts'
import { timelineRoutes } from './routes/timeline.ts'
import { userRoutes } from './routes/users.ts'
import type { WriteDeps } from './routes/write-context.ts'
import type { TimelineReader } from './types.ts'

export interface AppDeps {
  /** Repositories, caches and limits of the write routes (users, follows, posts). */
  write: WriteDeps
  reader: TimelineReader
  /** TIMELINE_PAGE_DEFAULT and TIMELINE_PAGE_MAX. */
  page: { pageDefault: number; pageMax: number }
  mitigations: MitigationState
  /** The kit's per-app registry (also serves /metrics); the feed's series are on it. */
  metrics: Metrics
  /** Bytes; bigger request bodies get 413 before they are parsed. */
  bodyLimitBytes: number
  adminToken?: string
  /** Log every request (two lines each); off by default, since at load it costs more than a read. */
  logRequests?: boolean
  /** The process logger (server.ts passes the kit's); a silent one when absent. */
  logger?: Logger | FastifyBaseLogger
}

/**
 * Builds the HTTP app from ready-made dependencies on top of the service kit (/healthz, /readyz,
 * /metrics, the error and 404 handlers, 503 while shutting down). Never reads the environment,
 * never listens: server.ts does both, tests call `inject()`.
 *
 * /readyz has no dependency checks on purpose (the shortener's pm03 lesson,
 * readinessIndependentOfDeps): if it asked Postgres or Redis, one outage would withdraw every
 * instance at once, including those that could still answer from the other store.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = createService({
    name: 'feed',
    ...(deps.logger ? { logger: deps.logger } : { level: 'silent' }),
    metrics: deps.metrics,
    requestLogging: deps.logRequests ?? false,
    fastify: {
      bodyLimit: deps.bodyLimitBytes,
      // Ids have at most 16 digits: a longer segment is a 404 without any lookup.
      routerOptions: { maxParamLength: 100, ignoreTrailingSlash: true },
      ajv: {
        customOptions: {
          // Unknown fields are an error, not silently dropped; no type coercion of bodies.
          removeAdditional: false,
          coerceTypes: false,
        },
      },
    },
  })

  // JSON only: any other content type on a body is 415, not a confusing validation error.
  app.removeContentTypeParser('text/plain')
  app.addSchema(errorSchema)
  await installOpenApi(app, {
    title: 'Faultline feed',
    version: '1.0.0',
    description:
      'Home timelines with fan-out: posts in Postgres, an outbox to Kafka, fan-out workers into capped Redis timelines, celebrities merged at read time.',
    tags: [
      { name: 'users' },
      { name: 'follows' },
      { name: 'posts' },
      { name: 'timeline' },
      { name: 'admin' },
    ],
  })

  adminRoutes(app, {
    mitigations: deps.mitigations,
    ...(deps.adminToken ? { adminToken: deps.adminToken } : {}),
  })
  userRoutes(app, deps.write)
  followRoutes(app, deps.write)
  postRoutes(app, deps.write)
  await app.register(timelineRoutes, { reader: deps.reader, ...deps.page })
  return app
}
