import { defineError as createError } from '@faultline/kit/errors'

/**
 * One code per failure, prefixed with the service name, so a client (or a log search) can tell
 * them apart without parsing messages. The kit's error handler turns them into
 * `{ statusCode, code, error, message, field? }`; a rejected ruleset adds `problems`.
 */
export const InvalidFieldError = createError<[string]>('RATELIMITER_ERR_INVALID_FIELD', '%s', 400)
export const UnauthorizedError = createError(
  'RATELIMITER_ERR_UNAUTHORIZED',
  'missing or wrong admin token',
  401,
)
/** A ruleset (file, reload or PUT) failed to parse, validate or move the version forward. */
export const RulesRejectedError = createError<[string]>('RATELIMITER_ERR_RULES_REJECTED', '%s', 422)
/** No ruleset has been applied yet, so no decision can be made (the caller's failure mode applies). */
export const NoRulesError = createError('RATELIMITER_ERR_NO_RULES', 'no rules are applied yet', 503)

/** A 400 naming the offending body field, in the kit's shape (`field: 'body.descriptors.0'`). */
export function invalidField(field: string, message: string): Error & { field: string } {
  const path = `body.${field}`
  const err = new InvalidFieldError(`${path} ${message}`) as InstanceType<typeof InvalidFieldError> & {
    field: string
  }
  err.field = path
  return err
}
