/**
 * The failures of the storage module, one code each, in the kit's error shape (`statusCode`,
 * `code`, optional `headers` and `field`), so a route can let them reach the kit's error handler
 * as they are: 413 for an upload over its limit, 503 + Retry-After while S3 is unavailable (the
 * client retries; nothing was acknowledged), 404 for a missing object, 422 when S3 refused what
 * a client sent (wrong part ETags, a part too small).
 */
import { defineError } from '@faultline/kit/errors'
import { CircuitOpenError } from '@faultline/resilience'

const TooLargeBase = defineError<[number]>('PHOTOS_ERR_TOO_LARGE', 'the upload is larger than %s bytes', 413)

/** The stream passed `maxBytes`: the multipart upload was aborted, no object was written. */
export class TooLargeError extends TooLargeBase {
  readonly limitBytes: number
  /** The field a route names in its 413 (`file` for a multipart form); set by the route. */
  field: string | undefined

  constructor(limitBytes: number) {
    super(limitBytes)
    this.name = 'TooLargeError'
    this.limitBytes = limitBytes
  }
}

const UnavailableBase = defineError(
  'PHOTOS_ERR_STORAGE_UNAVAILABLE',
  'object storage is unavailable; retry shortly',
  503,
)

/**
 * S3 did not answer, answered with a 5xx, timed out, or the breaker is open. Whatever was being
 * written is not acknowledged (a multipart upload was aborted when S3 still answered, else it is
 * left for the reaper). `headers` carries `retry-after` for the kit's error handler.
 */
export class StorageUnavailableError extends UnavailableBase {
  readonly retryAfterS: number
  readonly headers: Record<string, string>
  /** Whether the breaker refused the call without trying S3. */
  readonly breakerOpen: boolean

  constructor(options: { cause?: unknown; retryAfterS?: number; breakerOpen?: boolean } = {}) {
    super()
    this.cause = options.cause
    this.name = 'StorageUnavailableError'
    this.retryAfterS = Math.max(1, Math.ceil(options.retryAfterS ?? 1))
    this.headers = { 'retry-after': String(this.retryAfterS) }
    this.breakerOpen = options.breakerOpen ?? false
  }
}

const NotFoundBase = defineError<[string]>('PHOTOS_ERR_OBJECT_NOT_FOUND', 'no object at %s', 404)

export class ObjectNotFoundError extends NotFoundBase {
  readonly key: string

  constructor(key: string) {
    super(key)
    this.name = 'ObjectNotFoundError'
    this.key = key
  }
}

const RejectedBase = defineError<[string, string]>(
  'PHOTOS_ERR_STORAGE_REJECTED',
  'object storage refused the request: %s (%s)',
  422,
)

/**
 * S3 answered with a 4xx that is about the request's content, not S3's health (`InvalidPart`,
 * `EntityTooSmall`, `NoSuchUpload`): the caller's mistake, never counted by the breaker.
 */
export class StorageRejectedError extends RejectedBase {
  readonly s3Code: string

  constructor(s3Code: string, message: string, cause: unknown) {
    super(s3Code, message)
    this.cause = cause
    this.name = 'StorageRejectedError'
    this.s3Code = s3Code
  }
}

const InterruptedBase = defineError(
  'PHOTOS_ERR_UPLOAD_INTERRUPTED',
  'the upload stream failed before its end',
  400,
)

/**
 * The bytes being uploaded failed (the client went away mid-upload): not an S3 failure, never
 * counted by the breaker; the multipart upload was aborted.
 */
export class UploadInterruptedError extends InterruptedBase {
  constructor(cause: unknown) {
    super()
    this.cause = cause
    this.name = 'UploadInterruptedError'
  }
}

interface S3ServiceError {
  name?: string
  message?: string
  $metadata?: { httpStatusCode?: number }
}

/** 4xx statuses that still say S3 (or the path to it) is unwell: auth misconfigured, throttling, timeouts. */
const unhealthyClientStatuses = new Set([401, 403, 408, 429])

/** Whether an S3 error is the request's fault (a 4xx about its content) rather than S3's. */
export function isRequestFault(error: unknown): boolean {
  const status = (error as S3ServiceError | undefined)?.$metadata?.httpStatusCode
  if (typeof status !== 'number' || status < 400 || status > 499) return false
  if (unhealthyClientStatuses.has(status)) return false
  // A missing bucket is a deployment fault: every call fails until someone fixes it.
  return (error as S3ServiceError).name !== 'NoSuchBucket'
}

export function isNotFound(error: unknown): boolean {
  const e = error as S3ServiceError | undefined
  return e?.$metadata?.httpStatusCode === 404 && (e.name === 'NotFound' || e.name === 'NoSuchKey')
}

/**
 * Maps whatever an S3 call threw to this module's errors: ours pass through, a 404 on `key`
 * becomes {@link ObjectNotFoundError}, another request fault {@link StorageRejectedError}, an
 * open breaker and everything else (network, timeout, 5xx) {@link StorageUnavailableError}.
 */
export function toStorageError(error: unknown, key?: string): Error {
  if (
    error instanceof TooLargeError ||
    error instanceof UploadInterruptedError ||
    error instanceof StorageUnavailableError ||
    error instanceof ObjectNotFoundError ||
    error instanceof StorageRejectedError
  )
    return error
  if (error instanceof CircuitOpenError) {
    return new StorageUnavailableError({
      cause: error,
      retryAfterS: error.retryAfterMs / 1000,
      breakerOpen: true,
    })
  }
  if (key !== undefined && isNotFound(error)) return new ObjectNotFoundError(key)
  if (isRequestFault(error)) {
    const e = error as S3ServiceError
    return new StorageRejectedError(e.name ?? 'Unknown', e.message ?? '', error)
  }
  return new StorageUnavailableError({ cause: error })
}
