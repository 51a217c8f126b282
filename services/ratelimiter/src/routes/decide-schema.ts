/**
 * The JSON schemas of POST /v1/decide, in TypeBox: Fastify validates the body with them (a bad
 * body is a 400 naming the field), serialises the answer with them, and the types come from the
 * same declarations. Bounds keep one request's work small: at most 32 descriptors of at most 8
 * entries, keys ≤ 256 and values ≤ 1024 characters.
 */

import { algorithmNames } from '@faultline/ratelimit'
import { type Static, Type } from 'typebox'
import { limits } from '../rules/schema.ts'

export const maxDescriptors = 32

const key = Type.String({ minLength: 1, maxLength: limits.maxKeyLength, examples: ['api_key'] })
const value = Type.String({ minLength: 1, maxLength: limits.maxValueLength, examples: ['k-123'] })

export const entrySchema = Type.Object({ key, value }, { additionalProperties: false })

/**
 * One descriptor: a single entry `{ key, value }`, or Envoy's multi-entry form `{ entries: [...] }`
 * walked level by level through nested rules. Which of the two a body uses is checked by the
 * route, so the 400 names the field instead of an `anyOf` mismatch.
 */
export const descriptorSchema = Type.Object(
  {
    key: Type.Optional(key),
    value: Type.Optional(value),
    entries: Type.Optional(Type.Array(entrySchema, { minItems: 1, maxItems: limits.maxDepth })),
  },
  { additionalProperties: false },
)

export const decideBodySchema = Type.Object(
  {
    domain: Type.String({ minLength: 1, maxLength: limits.maxNameLength, examples: ['api'] }),
    descriptors: Type.Array(descriptorSchema, { minItems: 1, maxItems: maxDescriptors }),
    hitsAddend: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1_000_000, description: "this request's cost; default 1" }),
    ),
  },
  { additionalProperties: false },
)

export type DecideBody = Static<typeof decideBodySchema>

const code = Type.Union([Type.Literal('OK'), Type.Literal('OVER_LIMIT')])

export const statusSchema = Type.Object({
  code,
  limit: Type.Optional(
    Type.Object({
      requestsPerUnit: Type.Integer(),
      unit: Type.Union([
        Type.Literal('SECOND'),
        Type.Literal('MINUTE'),
        Type.Literal('HOUR'),
        Type.Literal('DAY'),
      ]),
      windowMs: Type.Integer(),
      algorithm: Type.Union(algorithmNames.map((name) => Type.Literal(name))),
      name: Type.Optional(Type.String()),
    }),
  ),
  remaining: Type.Integer({ description: 'cost units left in the window' }),
  resetS: Type.Integer({ description: 'seconds until the quota is fully available again' }),
  degraded: Type.Optional(
    Type.String({
      description:
        'set when the failure policy answered instead of Redis: deadline, redis-error, breaker-open',
    }),
  ),
})

export const decideResponseSchema = Type.Object({
  overall: code,
  statuses: Type.Array(statusSchema),
  rulesVersion: Type.Optional(Type.Integer()),
})
