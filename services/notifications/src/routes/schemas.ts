import { channels, deliveryStatuses, priorities } from '../types.ts'

/**
 * JSON schemas of the API: Fastify validates requests with them (a 400 naming the field, no
 * coercion, unknown fields refused) and serialises responses with them. Rules a schema cannot
 * express (an IANA zone, a webhook address, a template that parses) are checked in the routes.
 */

/** The kit's error body, named so routes refer to it as `Error#`, and the error statuses of a route. */
export { errorResponses, errorSchema } from '@faultline/kit/service'

export const categoryPattern = '^[a-z0-9][a-z0-9_.-]{0,63}$'
export const templateNamePattern = '^[a-z0-9][a-z0-9_.-]{0,63}$'
/** The caller's id: 1–128 characters, no control characters (Postgres text refuses NUL). */
export const recipientIdSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  pattern: '^[^\\u0000-\\u001f\\u007f]+$',
} as const
const channel = { type: 'string', enum: [...channels] } as const
const nullableTime = { type: ['string', 'null'], format: 'date-time' } as const

/** `ttlS`'s maximum is MAX_TTL_S, so the body schema is built from the config. */
export function createNotificationBody(maxTtlS: number) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['recipientId', 'template', 'category', 'priority'],
    properties: {
      recipientId: recipientIdSchema,
      template: { type: 'string', pattern: templateNamePattern },
      data: { type: 'object', description: 'Template variables (default {}).' },
      channels: {
        type: 'array',
        minItems: 1,
        maxItems: channels.length,
        uniqueItems: true,
        items: channel,
        description: 'Default: every channel of the template.',
      },
      category: { type: 'string', pattern: categoryPattern },
      priority: { type: 'string', enum: [...priorities] },
      ttlS: { type: 'integer', minimum: 1, maximum: maxTtlS, description: 'Default DEFAULT_TTL_S.' },
    },
  } as const
}

export const acceptedSchema = {
  type: 'object',
  properties: { id: { type: 'string', format: 'uuid' }, status: { type: 'string', enum: ['accepted'] } },
  required: ['id', 'status'],
} as const

export const idParams = {
  type: 'object',
  properties: { id: { type: 'string' } },
  required: ['id'],
} as const

export const recipientParams = {
  type: 'object',
  properties: { id: recipientIdSchema },
  required: ['id'],
} as const

export const templateParams = {
  type: 'object',
  properties: { name: { type: 'string', pattern: templateNamePattern } },
  required: ['name'],
} as const

export const notificationSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    recipientId: { type: 'string' },
    template: { type: 'string' },
    category: { type: 'string' },
    priority: { type: 'string', enum: [...priorities] },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time' },
    status: { type: 'string', enum: ['accepted', 'in_progress', 'done'] },
    deliveries: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          channel,
          status: { type: 'string', enum: [...deliveryStatuses] },
          reason: { type: ['string', 'null'] },
          attempts: { type: 'integer' },
          provider: { type: ['string', 'null'] },
          heldUntil: nullableTime,
          sentAt: nullableTime,
          updatedAt: { type: 'string', format: 'date-time' },
        },
        required: ['channel', 'status', 'reason', 'attempts', 'provider', 'heldUntil', 'sentAt', 'updatedAt'],
      },
    },
  },
  required: [
    'id',
    'recipientId',
    'template',
    'category',
    'priority',
    'createdAt',
    'expiresAt',
    'status',
    'deliveries',
  ],
} as const

const nullableString = (maxLength: number) => ({ type: ['string', 'null'], minLength: 1, maxLength }) as const
const hhmm = { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' } as const

export const recipientBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    email: nullableString(254),
    phone: { type: ['string', 'null'], pattern: '^\\+[1-9][0-9]{6,14}$', description: 'E.164.' },
    pushToken: {
      type: ['string', 'null'],
      pattern: '^[\\x21-\\x7e]{1,4096}$',
      description: 'Visible ASCII.',
    },
    webhookUrl: nullableString(2048),
    timezone: { type: 'string', minLength: 1, maxLength: 64, description: 'IANA zone (default UTC).' },
    quietHours: {
      type: ['object', 'null'],
      additionalProperties: false,
      required: ['start', 'end'],
      properties: { start: hhmm, end: hhmm },
      description: "Local 'HH:MM' window in the recipient's zone; may cross midnight.",
    },
    optOuts: {
      type: 'object',
      maxProperties: 100,
      propertyNames: { pattern: categoryPattern },
      additionalProperties: {
        type: 'array',
        uniqueItems: true,
        maxItems: channels.length + 1,
        items: { type: 'string', enum: [...channels, '*'] },
      },
      description: "category → channels opted out of ('*' = all).",
    },
  },
} as const

export const recipientSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    email: { type: ['string', 'null'] },
    phone: { type: ['string', 'null'] },
    pushToken: { type: ['string', 'null'] },
    webhookUrl: { type: ['string', 'null'] },
    timezone: { type: 'string' },
    quietHours: {
      type: ['object', 'null'],
      properties: { start: { type: 'string' }, end: { type: 'string' } },
    },
    optOuts: {
      type: 'object',
      additionalProperties: { type: 'array', items: { type: 'string' } },
    },
    updatedAt: { type: 'string', format: 'date-time' },
  },
  required: [
    'id',
    'email',
    'phone',
    'pushToken',
    'webhookUrl',
    'timezone',
    'quietHours',
    'optOuts',
    'updatedAt',
  ],
} as const

/** Each channel's parts are checked by src/templates/validate.ts (every problem, each naming its field). */
export const templateBody = {
  type: 'object',
  additionalProperties: false,
  required: ['channels'],
  properties: { channels: { type: 'object' } },
} as const

export const templateSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    channels: { type: 'object', additionalProperties: true },
    updatedAt: { type: 'string', format: 'date-time' },
  },
  required: ['name', 'channels', 'updatedAt'],
} as const

export const statsSchema = {
  type: 'object',
  properties: {
    notifications: { type: 'integer' },
    deliveries: {
      type: 'object',
      properties: Object.fromEntries(deliveryStatuses.map((s) => [s, { type: 'integer' }])),
    },
    inFlight: { type: 'integer' },
    balanced: { type: 'boolean' },
    unrouted: { type: 'integer' },
  },
  required: ['notifications', 'deliveries', 'inFlight', 'balanced'],
} as const
