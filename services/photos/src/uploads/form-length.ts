/**
 * The length of a multipart form's file, known before its bytes arrive — so `POST /api/photos`
 * can stream it to S3 as one PutObject of that length (S3 needs the length up front) instead of
 * the parts of a multipart upload, which must each be gathered in memory before they are sent.
 *
 * A form whose first part is the file, sent with a Content-Length, is laid out as
 *
 *     --<boundary>\r\n <part headers> \r\n\r\n <the file's bytes> \r\n--<boundary>--\r\n
 *
 * so the file's length is the Content-Length minus the bytes before it (read from the body's
 * first bytes, as they pass on their way to the parser) minus the closing delimiter. This is a
 * prediction, not a fact: a form may go on after the file (more fields), carry an epilogue, or
 * end without the last CRLF (RFC 2046 allows all three). The caller checks the length the parser
 * counted against the prediction and repairs a wrong guess (storage/declared-put.ts); this
 * module only says what the usual form's file length is, or `undefined` when it cannot tell
 * (no Content-Length, the first part is not a file, headers longer than the tap kept).
 */
import type { IncomingMessage } from 'node:http'

/** The most of the body's start kept to find the file's headers (busboy's own header limit is 80 KiB). */
export const prefixTapBytes = 64 * 1024

export interface BodyPrefixTap {
  /** Stops keeping bytes; returns the body's first bytes seen until now (at most the limit). */
  stop(): Buffer
}

const noTap: BodyPrefixTap = { stop: () => Buffer.alloc(0) }

/**
 * Keeps the first bytes of a request body that is already flowing into its parser (the
 * multipart plugin pipes the request as soon as `request.file()` is called). A second 'data'
 * listener sees the same chunks without taking any from the parser — but one added before the
 * pipe would start the flow and lose them, so on a body that is not yet flowing this keeps
 * nothing (and the caller falls back to the upload of unknown length).
 */
export function tapBodyPrefix(raw: IncomingMessage, limitBytes = prefixTapBytes): BodyPrefixTap {
  if (raw.readableFlowing !== true) return noTap
  const chunks: Buffer[] = []
  let kept = 0
  const onData = (chunk: Buffer) => {
    chunks.push(chunk)
    kept += chunk.length
    if (kept >= limitBytes) raw.off('data', onData)
  }
  raw.on('data', onData)
  return {
    stop: () => {
      raw.off('data', onData)
      const all = Buffer.concat(chunks)
      chunks.length = 0
      return all.length > limitBytes ? all.subarray(0, limitBytes) : all
    },
  }
}

/** The `boundary` parameter of a multipart/form-data Content-Type, quoted or not. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (!contentType || !/^\s*multipart\/form-data\s*;/i.test(contentType)) return undefined
  const match = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType)
  return match?.[1] ?? match?.[2]
}

/**
 * The file's length when the body is the usual form — first part the file, closed right after
 * it — or `undefined` when the body's start does not say (see the module's comment).
 */
export function predictFirstFileBytes(
  headers: { 'content-length'?: string; 'content-type'?: string },
  prefix: Buffer,
): number | undefined {
  const contentLength = Number(headers['content-length'])
  const boundary = boundaryOf(headers['content-type'])
  if (!Number.isSafeInteger(contentLength) || contentLength <= 0 || boundary === undefined) return undefined
  const opening = `--${boundary}\r\n`
  if (prefix.length < opening.length || prefix.toString('latin1', 0, opening.length) !== opening)
    return undefined
  const headersEnd = prefix.indexOf('\r\n\r\n', opening.length - 2, 'latin1')
  if (headersEnd < 0) return undefined
  // The part is the file only if its Content-Disposition names a file (as busboy decides).
  const partHeaders = prefix.toString('latin1', opening.length, headersEnd)
  const disposition = /^content-disposition\s*:(.*)$/im.exec(partHeaders)?.[1]
  if (!disposition || !/;\s*filename\*?\s*=/i.test(disposition)) return undefined
  const before = headersEnd + 4
  const closing = `\r\n--${boundary}--\r\n`.length
  const predicted = contentLength - before - closing
  return predicted >= 0 ? predicted : undefined
}
