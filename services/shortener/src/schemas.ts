import { aliasPattern, maxUrlLength } from './validation.ts'

/**
 * JSON schemas of the API: Fastify validates requests with them, serialises responses with
 * them, and @fastify/swagger turns them into /openapi.json. The semantic URL rules (scheme,
 * credentials, host) live in validation.ts, because a schema cannot express them.
 */

/** The kit's error body, named so routes refer to it as `Error#`, and the error statuses of a route. */
export { errorResponses, errorSchema } from '@faultline/kit/service'

export const codeParam = {
  type: 'object',
  properties: { code: { type: 'string', description: 'Generated code (7 characters) or custom alias.' } },
  required: ['code'],
} as const

export const createLinkBody = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: {
      type: 'string',
      minLength: 1,
      maxLength: maxUrlLength,
      description: 'Absolute http(s) URL without credentials.',
      examples: ['https://example.com/some/long/path?q=1'],
    },
    alias: {
      type: 'string',
      pattern: aliasPattern.source,
      description: 'Custom code: 3–32 of A-Z a-z 0-9 _ -, not a reserved word.',
    },
    expiresAt: {
      type: 'string',
      format: 'date-time',
      description: 'ISO 8601 date-time in the future; the link answers 410 afterwards.',
    },
  },
} as const

export const createdLink = {
  type: 'object',
  properties: {
    code: { type: 'string' },
    shortUrl: { type: 'string' },
    url: { type: 'string' },
    expiresAt: { type: ['string', 'null'], format: 'date-time' },
  },
  required: ['code', 'shortUrl', 'url', 'expiresAt'],
} as const

export const linkDetails = {
  type: 'object',
  properties: {
    code: { type: 'string' },
    shortUrl: { type: 'string' },
    url: { type: 'string' },
    customAlias: { type: 'boolean' },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: ['string', 'null'], format: 'date-time' },
    expired: { type: 'boolean' },
    clicks: {
      type: 'integer',
      description: 'Redirects counted so far (the click pipeline lags by seconds).',
    },
  },
  required: ['code', 'shortUrl', 'url', 'customAlias', 'createdAt', 'expiresAt', 'expired', 'clicks'],
} as const
