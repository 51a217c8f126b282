/**
 * JSON schemas of the API: Fastify validates requests with them (a 400 naming the field) and
 * serialises responses with them. Ids are decimal strings in the API (ids.ts); a path id that is
 * not one is a 404, checked in the handler, so the schemas only ask for strings.
 */

/** The kit's error body, named so routes refer to it as `Error#`, and the error statuses of a route. */
export { errorResponses, errorSchema } from '@faultline/kit/service'

const id = { type: 'string', description: 'Decimal id.' } as const

export const idParams = {
  type: 'object',
  properties: { id },
  required: ['id'],
} as const

export const followParams = {
  type: 'object',
  properties: { id, targetId: id },
  required: ['id', 'targetId'],
} as const

export const handlePattern = '^[A-Za-z0-9_]{1,30}$'

export const createUserBody = {
  type: 'object',
  additionalProperties: false,
  required: ['handle'],
  properties: {
    handle: { type: 'string', pattern: handlePattern, description: '1–30 of A-Z a-z 0-9 _; unique.' },
  },
} as const

export const userSchema = {
  type: 'object',
  properties: { id, handle: { type: 'string' } },
  required: ['id', 'handle'],
} as const

/** `maxLength` is POST_TEXT_MAX, so the body schema is built from the config. */
export function createPostBody(textMax: number) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['text'],
    properties: {
      text: {
        type: 'string',
        minLength: 1,
        maxLength: textMax,
        description: `1–${textMax} characters, not only whitespace.`,
      },
    },
  } as const
}

export const postSchema = {
  type: 'object',
  properties: {
    id,
    authorId: id,
    text: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
  },
  required: ['id', 'authorId', 'text', 'createdAt'],
} as const
