import multipart from '@fastify/multipart'
import type { Metrics } from '@faultline/kit/metrics'
import { installOpenApi } from '@faultline/kit/openapi'
import { createService, errorSchema, type Logger } from '@faultline/kit/service'
import { installSwitches } from '@faultline/kit/switches'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { type AdminRouteDeps, adminRoutes } from './admin/routes.ts'
import { UnauthorizedError } from './errors.ts'
import type { MitigationState } from './mitigations.ts'
import { openApiTags } from './routes/openapi.ts'
import { type PhotoRouteDeps, photoRoutes } from './routes/photos.ts'
import { type UploadRouteDeps, uploadRoutes } from './routes/uploads.ts'
import { type TusRouteDeps, tusRoutes } from './tus/routes.ts'

export interface AppDeps extends PhotoRouteDeps {
  mitigations: MitigationState
  /** The presigned-upload flow (`POST /api/uploads`, `…/:id/complete`). */
  presigned: UploadRouteDeps['presigned']
  /** `POST /admin/reprocess` ("reprocess all" on the backfill lane). */
  reprocess: AdminRouteDeps['reprocess']
  /** The kit's per-app registry (also serves /metrics). */
  metrics: Metrics
  adminToken?: string | undefined
  logRequests?: boolean
  logger?: Logger | FastifyBaseLogger
  /** Resumable uploads at /api/tus (src/tus); absent: not mounted. */
  tus?: TusRouteDeps
}

/**
 * Builds the HTTP app from ready-made dependencies on top of the service kit (/healthz, /readyz,
 * /metrics, /admin/mitigations, the error and 404 handlers, 503 while shutting down). Never reads
 * the environment, never listens: server.ts does both, tests call `inject()` or listen on port 0.
 *
 * /readyz has no dependency checks (the shortener's pm03 lesson): an S3 outage is answered per
 * request with 503 + Retry-After, not by withdrawing every instance at once.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = createService({
    name: 'photos',
    ...(deps.logger ? { logger: deps.logger } : { level: 'silent' }),
    metrics: deps.metrics,
    requestLogging: deps.logRequests ?? false,
    fastify: {
      routerOptions: { maxParamLength: 200, ignoreTrailingSlash: true },
      // The kit's 30 s would cut honest uploads: 50 MiB at 100 KiB/s takes 8.5 minutes. A form
      // upload that stalls is cut sooner by its own check (PHOTOS_ERR_UPLOAD_INTERRUPTED).
      requestTimeout: 10 * 60_000,
    },
  })
  app.addSchema(errorSchema)
  await installOpenApi(app, {
    title: 'Faultline photos',
    version: '1.0.0',
    description:
      'Photo uploads (streamed, presigned and resumable) to S3, processed by sandboxed sharp workers on BullMQ into derivatives, deduplicated per owner.',
    tags: openApiTags,
  })
  // Streamed: request.file() hands the route the part as a stream, never buffered in memory.
  await app.register(multipart, { limits: { files: 1, fields: 10, fieldSize: 1024 } })
  installSwitches(app, {
    state: deps.mitigations,
    adminToken: deps.adminToken,
    unauthorizedError: UnauthorizedError,
    errorSchema: { $ref: 'Error#' },
  })
  await photoRoutes(app, deps)
  await adminRoutes(app, { reprocess: deps.reprocess, adminToken: deps.adminToken })
  if (deps.tus) await tusRoutes(app, deps.tus)
  await uploadRoutes(app, deps)
  return app
}
