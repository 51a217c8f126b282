import { installSwitches } from '@faultline/kit/switches'
import type { FastifyInstance } from 'fastify'
import { UnauthorizedError } from '../errors.ts'
import type { MitigationState } from '../mitigations.ts'

/**
 * The live switches (`GET/PUT /admin/mitigations`), served by the kit from the manifest in
 * mitigations.ts; the relay and the worker serve the same routes. The lab PUTs a mode's switches
 * here once an instance is healthy; a user can flip one while load runs and watch the effect.
 * Guarded by ADMIN_TOKEN when it is set (bearer, 401 `FEED_ERR_UNAUTHORIZED`); open otherwise,
 * which is fine on 127.0.0.1 only.
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
