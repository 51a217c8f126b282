import type { FastifyInstance } from 'fastify'
import type { DecideRequest, DecisionEngine, Descriptor } from '../decision-types.ts'
import { invalidField } from '../errors.ts'
import { type DecideBody, decideBodySchema, decideResponseSchema } from './decide-schema.ts'

const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((status) => [status, { $ref: 'Error#' }]))

/**
 * POST /v1/decide: `{ domain, descriptors, hitsAddend? }` → `{ overall, statuses }`, one status per
 * descriptor in order; overall OVER_LIMIT when any is. The same engine answers Envoy's gRPC calls.
 */
export function decideRoutes(app: FastifyInstance, deps: { engine: DecisionEngine }) {
  app.post<{ Body: DecideBody }>(
    '/v1/decide',
    {
      schema: {
        body: decideBodySchema,
        response: { 200: decideResponseSchema, ...errors(400, 413, 415, 503) },
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
