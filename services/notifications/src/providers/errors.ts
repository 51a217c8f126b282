/**
 * The fake providers' 400s, in the kit's error shape `{statusCode, code, error, message, field}`:
 * a client (or a test) learns which field or knob was wrong without parsing the message.
 */
import { defineError } from '@faultline/kit/errors'

/** A knob (PUT /<name>/admin/knobs) has an unknown name or a bad value. */
export const InvalidKnobError = defineError<[string]>('NOTIFICATIONS_ERR_PROVIDER_INVALID_KNOB', '%s', 400)
/** A message (POST /<name>/v1/messages) or an admin query is malformed. */
export const InvalidProviderRequestError = defineError<[string]>(
  'NOTIFICATIONS_ERR_PROVIDER_INVALID_REQUEST',
  '%s',
  400,
)

type FieldErrorClass = new (message: string) => Error

/** An error of `Class` whose `field` the kit's handler copies into the response. */
export function fieldError(
  Class: FieldErrorClass,
  field: string,
  message: string,
): Error & { field: string } {
  const error = new Class(message) as Error & { field: string }
  error.field = field
  return error
}
