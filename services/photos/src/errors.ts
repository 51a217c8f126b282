import { defineError } from '@faultline/kit/errors'

/**
 * One code per failure, prefixed `PHOTOS_ERR_`, so a client (or a log search) tells them apart
 * without parsing messages (the storage failures — 413, 503 + Retry-After — are in
 * storage/errors.ts, the processing reasons in processor/errors.ts). The kit's error handler sends `{ statusCode, code, error, message,
 * field? }`.
 */
export const InvalidFieldError = defineError<[string]>('PHOTOS_ERR_INVALID_FIELD', '%s', 400)
export const PhotoNotFoundError = defineError<[string]>(
  'PHOTOS_ERR_PHOTO_NOT_FOUND',
  'no photo with id %s',
  404,
)
export const VariantNotFoundError = defineError<[string]>(
  'PHOTOS_ERR_VARIANT_NOT_FOUND',
  'no variant %s',
  404,
)
export const UploadNotFoundError = defineError<[string]>(
  'PHOTOS_ERR_UPLOAD_NOT_FOUND',
  'no upload with id %s',
  404,
)
export const TusNotReadableError = defineError(
  'PHOTOS_ERR_TUS_NOT_READABLE',
  'a tus upload is not readable: the photo is served by GET /api/photos/:id and its variants (the original keeps its metadata, GPS included)',
  405,
)
export const UnauthorizedError = defineError('PHOTOS_ERR_UNAUTHORIZED', 'missing or wrong admin token', 401)

type WithField = Error & { field: string }

/**
 * A 400 naming the field, in the kit's shape (`field: 'headers.x-user-id'`, message
 * `headers.x-user-id must …`), the same as a schema validation error.
 */
export function invalidField(
  where: 'body' | 'query' | 'params' | 'headers',
  field: string,
  message: string,
): WithField {
  const path = `${where}.${field}`
  const err = new InvalidFieldError(`${path} ${message}`) as InstanceType<typeof InvalidFieldError> &
    WithField
  err.field = path
  return err
}

/**
 * A 404 for a photo id that is unknown, malformed or another owner's: the same answer for all
 * three, so an id is never an oracle for another user's photos.
 */
export function photoNotFound(id: string): WithField {
  const err = new PhotoNotFoundError(id) as InstanceType<typeof PhotoNotFoundError> & WithField
  err.field = 'params.id'
  return err
}

/** The same for a variant file (`/api/variants/<sha256>.<ext>`): unknown, malformed or another owner's. */
export function variantNotFound(file: string): WithField {
  const err = new VariantNotFoundError(file) as InstanceType<typeof VariantNotFoundError> & WithField
  err.field = 'params.file'
  return err
}
