import { errorResponses } from '@faultline/kit/service'
import type { FastifyInstance } from 'fastify'
import type { DecideRequest, DecisionEngine, Descriptor } from '../decision-types.ts'
import { invalidField } from '../errors.ts'
import { type DecideBody, decideBodySchema, decideResponseSchema } from './decide-schema.ts'

/**
 * POST /v1/decide: `{ domain, descriptors, hitsAddend? }` → `{ overall, statuses }`, one status per
 * descriptor in order; overall OVER_LIMIT when any is. The same engine answers Envoy's gRPC calls.
 */
export function decideRoutes(app: FastifyInstance, deps: { engine: DecisionEngine }) {
  app.post<{ Body: DecideBody }>(
    '/v1/decide',
    {
      schema: {
        summary: 'Decide: is this request within the limits of its descriptors?',
        description:
          'One status per descriptor, in order; overall OVER_LIMIT when any is. hitsAddend is the cost (default 1). ' +
          "The same decisions as Envoy's gRPC envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit.",
        tags: ['decide'],
        body: decideBodySchema,
        response: { 200: decideResponseSchema, ...errorResponses(400, 413, 415, 503) },
      },
    },
    async (request) => deps.engine.decide(toDecideRequest(request.body)),
  )
}

/** The body (already schema-checked) → the engine's request; a descriptor of neither or both forms is a 400. */
export function toDecideRequest(body: DecideBody): DecideRequest {
  const descriptors: Descriptor[] = body.descriptors.map((descriptor, i) => {
    const field = `descriptors.${i}`
    const single = descriptor.key !== undefined || descriptor.value !== undefined
    if (descriptor.entries !== undefined) {
      if (single) throw invalidField(field, 'must have either key and value, or entries, not both')
      return descriptor.entries.map((entry) => ({ key: entry.key, value: entry.value }))
    }
    if (descriptor.key === undefined) {
      throw invalidField(
        single ? `${field}.key` : field,
        single ? 'is required' : 'must have key and value, or entries',
      )
    }
    if (descriptor.value === undefined) throw invalidField(`${field}.value`, 'is required')
    return [{ key: descriptor.key, value: descriptor.value }]
  })
  return {
    domain: body.domain,
    descriptors,
    ...(body.hitsAddend === undefined ? {} : { hitsAddend: body.hitsAddend }),
  }
}
