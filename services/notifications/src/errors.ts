import { defineError } from '@faultline/kit/errors'

/**
 * One code per failure of the API, prefixed `NOTIFICATIONS_ERR_`, so a client (or a log search)
 * tells them apart without parsing messages. The kit's error handler sends `{ statusCode, code,
 * error, message, field? }`; every error a request can cause names its field.
 */
export const InvalidFieldError = defineError<[string]>('NOTIFICATIONS_ERR_INVALID_FIELD', '%s', 400)
export const NotificationNotFoundError = defineError<[string]>(
  'NOTIFICATIONS_ERR_NOTIFICATION_NOT_FOUND',
  'no notification with id %s',
  404,
)
export const RecipientNotFoundError = defineError<[string]>(
  'NOTIFICATIONS_ERR_RECIPIENT_NOT_FOUND',
  'no recipient with id %s',
  404,
)
export const TemplateNotFoundError = defineError<[string]>(
  'NOTIFICATIONS_ERR_TEMPLATE_NOT_FOUND',
  'no template named %s',
  404,
)
/** The request names a template that does not exist: the request is well-formed but unprocessable. */
export const UnknownTemplateError = defineError<[string]>(
  'NOTIFICATIONS_ERR_UNKNOWN_TEMPLATE',
  'no template named %s',
  422,
)
export const ChannelNotInTemplateError = defineError<[string, string]>(
  'NOTIFICATIONS_ERR_CHANNEL_NOT_IN_TEMPLATE',
  'template %s has no %s channel',
  422,
)
/** The data lacks a variable the template uses, or the template cannot render it. */
export const TemplateDataError = defineError<[string]>('NOTIFICATIONS_ERR_TEMPLATE_DATA', '%s', 422)
export const IdempotencyMismatchError = defineError(
  'NOTIFICATIONS_ERR_IDEMPOTENCY_MISMATCH',
  'this Idempotency-Key was used with other parameters',
  422,
)
export const IdempotencyInFlightError = defineError(
  'NOTIFICATIONS_ERR_IDEMPOTENCY_IN_FLIGHT',
  'a request with this Idempotency-Key is still being processed; retry after Retry-After seconds',
  409,
)
export const UnauthorizedError = defineError(
  'NOTIFICATIONS_ERR_UNAUTHORIZED',
  'missing or wrong admin token',
  401,
)

export type Where = 'body' | 'query' | 'params' | 'headers'
type WithField = Error & { field: string }
type WithHeaders = WithField & { headers: Record<string, string> }

function withField<E extends Error>(err: E, field: string): E & WithField {
  const e = err as E & WithField
  e.field = field
  return e
}

/**
 * A 400 naming the field, in the kit's shape (`field: 'body.recipientId'`, message
 * `body.recipientId must …`), the same as a schema validation error.
 */
export function invalidField(where: Where, field: string, message: string): WithField {
  const path = `${where}.${field}`
  return withField(new InvalidFieldError(`${path} ${message}`), path)
}

/** A 404 for an id that is unknown or malformed: the same answer for both, never a 400 or a 500. */
export function notificationNotFound(id: string): WithField {
  return withField(new NotificationNotFoundError(id), 'params.id')
}

export function recipientNotFound(id: string, field = 'params.id'): WithField {
  return withField(new RecipientNotFoundError(id), field)
}

export function templateNotFound(name: string): WithField {
  return withField(new TemplateNotFoundError(name), 'params.name')
}

export function unknownTemplate(name: string): WithField {
  return withField(new UnknownTemplateError(name), 'body.template')
}

export function channelNotInTemplate(template: string, channel: string): WithField {
  return withField(new ChannelNotInTemplateError(template, channel), 'body.channels')
}

/** A 422 naming the data field (`body.data.name`) or the template part that could not render. */
export function templateDataError(field: string, message: string): WithField {
  return withField(new TemplateDataError(`${field} ${message}`), field)
}

export function idempotencyMismatch(): WithField {
  return withField(new IdempotencyMismatchError(), 'headers.idempotency-key')
}

/** 409 + `Retry-After` (the kit's handler sends an error's `headers`). */
export function idempotencyInFlight(retryAfterS: number): WithHeaders {
  const err = withField(new IdempotencyInFlightError(), 'headers.idempotency-key')
  return Object.assign(err, { headers: { 'retry-after': String(retryAfterS) } })
}
