import { installSwitches } from '@faultline/kit/switches'
import type { FastifyInstance } from 'fastify'
import { UnauthorizedError } from '../errors.ts'
import type { MitigationState } from '../mitigations.ts'

/**
 * The live switches, served by the kit from the manifest in mitigations.ts (every process of the
 * system serves the same routes). The lab PUTs the mode's switches here once an instance is
 * healthy and reads them back. Guarded by ADMIN_TOKEN when it is set (a bearer token, 401
 * `NOTIFICATIONS_ERR_UNAUTHORIZED`); open otherwise, which is fine on 127.0.0.1 only.
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
