import { defineError } from '@faultline/kit/errors'

/**
 * One code per failure, prefixed `FEED_ERR_`, so a client (or a log search) tells them apart
 * without parsing messages. The kit's error handler sends `{ statusCode, code, error, message,
 * field? }`.
 */
export const InvalidFieldError = defineError<[string]>('FEED_ERR_INVALID_FIELD', '%s', 400)
export const HandleTakenError = defineError<[string]>(
  'FEED_ERR_HANDLE_TAKEN',
  'handle "%s" is already taken',
  409,
)
export const UserNotFoundError = defineError<[string]>('FEED_ERR_USER_NOT_FOUND', 'no user with id %s', 404)
export const PostNotFoundError = defineError<[string]>('FEED_ERR_POST_NOT_FOUND', 'no post with id %s', 404)
export const UnauthorizedError = defineError('FEED_ERR_UNAUTHORIZED', 'missing or wrong admin token', 401)

type WithField = Error & { field: string }

/**
 * A 400 naming the field, in the kit's shape (`field: 'body.handle'`, message `body.handle must …`),
 * the same as a schema validation error. `where` is `body`, `query` or `params`.
 */
export function invalidField(where: 'body' | 'query' | 'params', field: string, message: string): WithField {
  const path = `${where}.${field}`
  const err = new InvalidFieldError(`${path} ${message}`) as InstanceType<typeof InvalidFieldError> &
    WithField
  err.field = path
  return err
}

/** A 404 for a path id that names no user — malformed ids included, so an id is never a 400 or 500. */
export function userNotFound(id: string, field = 'id'): WithField {
  const err = new UserNotFoundError(id) as InstanceType<typeof UserNotFoundError> & WithField
  err.field = `params.${field}`
  return err
}

/** A 404 for a path id that names no post (or a deleted one). */
export function postNotFound(id: string): WithField {
  const err = new PostNotFoundError(id) as InstanceType<typeof PostNotFoundError> & WithField
  err.field = 'params.id'
  return err
}
