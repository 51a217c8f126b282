import { defineError as createError } from '@faultline/kit/errors'

/**
 * One code per failure, prefixed with the service name, so a client (or a log search) can tell
 * them apart without parsing messages. The error handler in app.ts turns them into
 * `{ statusCode, code, error, message, field? }`.
 */
export const InvalidFieldError = createError<[string]>('SHORTENER_ERR_INVALID_FIELD', '%s', 400)
export const AliasTakenError = createError<[string]>(
  'SHORTENER_ERR_ALIAS_TAKEN',
  'alias "%s" is already taken',
  409,
)
export const LinkNotFoundError = createError('SHORTENER_ERR_NOT_FOUND', 'no link with this code', 404)
export const LinkExpiredError = createError('SHORTENER_ERR_EXPIRED', 'this link has expired', 410)
export const OverloadedError = createError(
  'SHORTENER_ERR_OVERLOADED',
  'too many uncached lookups at once; retry shortly',
  503,
)
export const StorageUnavailableError = createError(
  'SHORTENER_ERR_STORAGE_UNAVAILABLE',
  'storage is unavailable; retry shortly',
  503,
)
export const IdSpaceExhaustedError = createError(
  'SHORTENER_ERR_ID_SPACE_EXHAUSTED',
  'no more ids to allocate',
  507,
)
export const UnauthorizedError = createError(
  'SHORTENER_ERR_UNAUTHORIZED',
  'missing or wrong admin token',
  401,
)

/**
 * A 400 naming the offending body field, in the kit's shape (`field: 'body.url'`, message
 * `body.url must use http or https`), the same as a schema validation error.
 */
export function invalidField(field: string, message: string): Error & { field: string } {
  const path = `body.${field}`
  const err = new InvalidFieldError(`${path} ${message}`) as InstanceType<typeof InvalidFieldError> & {
    field: string
  }
  err.field = path
  return err
}
