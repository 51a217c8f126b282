/**
 * The admin commands beside `/admin/mitigations`: `POST /admin/reprocess {all: true}` → 202
 * `{runId, enqueued}` once every photo's job is on the backfill lane (not yet processed: the lane
 * drains at its own pace, behind new uploads). Guarded by ADMIN_TOKEN exactly like the switches
 * (bearer, 401 `PHOTOS_ERR_UNAUTHORIZED`); open when it is unset, which is fine on 127.0.0.1 only.
 */
import { timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { invalidField, UnauthorizedError } from '../errors.ts'
import { photoDocs } from '../routes/openapi.ts'
import { type ReprocessDeps, reprocessAll } from './reprocess.ts'

export interface AdminRouteDeps {
  reprocess: ReprocessDeps
  adminToken?: string | undefined
}

/** An onRequest hook checking `Authorization: Bearer <ADMIN_TOKEN>` in constant time. */
export function adminGuard(adminToken: string | undefined) {
  const expected = adminToken ? Buffer.from(`Bearer ${adminToken}`) : undefined
  return async (request: FastifyRequest): Promise<void> => {
    if (!expected) return
    const given = Buffer.from(request.headers.authorization ?? '')
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new UnauthorizedError()
  }
}

export async function adminRoutes(app: FastifyInstance, deps: AdminRouteDeps): Promise<void> {
  app.post<{ Body: unknown }>(
    '/admin/reprocess',
    { onRequest: adminGuard(deps.adminToken), config: photoDocs.reprocess },
    async (request, reply) => {
      const body = request.body as { all?: unknown } | null | undefined
      // Only "all" exists; requiring it spelled out keeps an empty POST from reprocessing everything.
      if (typeof body !== 'object' || body === null || body.all !== true)
        throw invalidField('body', 'all', 'must be true (reprocess every photo on the backfill lane)')
      const run = await reprocessAll(deps.reprocess)
      request.log.info(run, 'reprocess all: enqueued on the backfill lane')
      return reply.code(202).send(run)
    },
  )
}
