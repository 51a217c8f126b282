/**
 * Why an image was not processed, as a code (for metrics, logs and the dead-letter queue) and a
 * reason a user can read (stored on the photo and returned by `GET /api/photos/:id`). Every
 * failure of the processor is one of these: a caller never sees a raw libvips message, which is
 * neither readable nor stable across libvips versions.
 */
export const processingErrorCodes = [
  'PHOTOS_ERR_UNSUPPORTED_TYPE',
  'PHOTOS_ERR_FILE_TOO_LARGE',
  'PHOTOS_ERR_TOO_MANY_PIXELS',
  'PHOTOS_ERR_TOO_MANY_FRAMES',
  'PHOTOS_ERR_CORRUPT',
  'PHOTOS_ERR_TIMEOUT',
  'PHOTOS_ERR_CRASHED',
] as const

export type ProcessingErrorCode = (typeof processingErrorCodes)[number]

/** The plain shape, for crossing a worker-thread boundary or a BullMQ job's failedReason. */
export interface ProcessingFailure {
  readonly code: ProcessingErrorCode
  readonly reason: string
}

export class ProcessingError extends Error implements ProcessingFailure {
  override readonly name = 'ProcessingError'
  readonly code: ProcessingErrorCode
  readonly reason: string

  constructor(code: ProcessingErrorCode, reason: string, options?: { cause?: unknown }) {
    super(reason, options)
    this.code = code
    this.reason = reason
  }

  toJSON(): ProcessingFailure {
    return { code: this.code, reason: this.reason }
  }

  /** Rebuilds the error from its plain shape, or undefined when `value` is not one. */
  static from(value: unknown): ProcessingError | undefined {
    if (typeof value !== 'object' || value === null) return undefined
    const { code, reason } = value as Partial<ProcessingFailure>
    if (typeof reason !== 'string' || !processingErrorCodes.includes(code as ProcessingErrorCode))
      return undefined
    return new ProcessingError(code as ProcessingErrorCode, reason)
  }
}

export function isProcessingError(err: unknown): err is ProcessingError {
  return err instanceof ProcessingError
}
