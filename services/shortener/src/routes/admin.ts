import { timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { UnauthorizedError } from '../errors.ts'
import type { MitigationState } from '../mitigations.ts'
import { errorResponses, mitigationsSchema } from '../schemas.ts'

/**
 * The live switches. The lab PUTs the mode's switches here once an instance is healthy and reads
 * them back; a user can flip one while load runs and watch the effect. Guarded by ADMIN_TOKEN
 * when it is set (a bearer token); open otherwise, which is fine on 127.0.0.1 only.
 */
export function adminRoutes(
  app: FastifyInstance,
  deps: { mitigations: MitigationState; adminToken?: string },
) {
  const expected = deps.adminToken ? Buffer.from(`Bearer ${deps.adminToken}`) : undefined
  const authorize = async (request: FastifyRequest) => {
    if (!expected) return
    const given = Buffer.from(request.headers.authorization ?? '')
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new UnauthorizedError()
  }
  const response = { 200: { ...mitigationsSchema, required: [...Object.keys(mitigationsSchema.properties)] } }

  app.get(
    '/admin/mitigations',
    {
      onRequest: authorize,
      schema: {
        summary: 'Current mitigation switches',
        tags: ['admin'],
        response: { ...response, ...errorResponses(401) },
      },
    },
    async () => deps.mitigations.snapshot(),
  )

  app.put<{ Body: Record<string, boolean> }>(
    '/admin/mitigations',
    {
      onRequest: authorize,
      schema: {
        summary: 'Flip mitigation switches (partial update)',
        tags: ['admin'],
        body: mitigationsSchema,
        response: { ...response, ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      deps.mitigations.update(request.body)
      request.log.info({ mitigations: deps.mitigations.snapshot() }, 'mitigations updated')
      return deps.mitigations.snapshot()
    },
  )
}
