import { timingSafeEqual } from 'node:crypto'
import { installSwitches } from '@faultline/kit/switches'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { UnauthorizedError } from '../errors.ts'
import type { MitigationState } from '../mitigations.ts'

/**
 * The live switches, served by the kit from the manifest in mitigations.ts. The lab PUTs the
 * mode's switches here once an instance is healthy; a user can flip one while load runs. Guarded
 * by ADMIN_TOKEN when it is set (a bearer token, 401 `RATELIMITER_ERR_UNAUTHORIZED`), like every
 * other /admin route of the service; open otherwise, which is fine on 127.0.0.1 only.
 */
export function adminRoutes(
  app: FastifyInstance,
  deps: { mitigations: MitigationState; adminToken?: string },
) {
  installSwitches(app, {
    state: deps.mitigations,
    adminToken: deps.adminToken,
    unauthorizedError: UnauthorizedError,
    errorSchema: { $ref: 'Error#' },
  })
}

/**
 * The `onRequest` hook of the service's own admin routes: the same bearer token as the switches',
 * compared in constant time, checked before the body is read. No token configured = open.
 */
export function requireAdminToken(adminToken: string | undefined) {
  const expected = adminToken ? Buffer.from(`Bearer ${adminToken}`) : undefined
  return async (request: FastifyRequest) => {
    if (!expected) return
    const given = Buffer.from(request.headers.authorization ?? '')
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new UnauthorizedError()
  }
}
