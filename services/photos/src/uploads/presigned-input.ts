/**
 * The bodies of the presigned-upload routes, checked field by field: each problem is a 400 naming
 * its field (`body.size`, `body.parts[1].etag`), a declared size over MAX_UPLOAD_BYTES a 413
 * naming `body.size` — before anything is signed or stored.
 */
import { invalidField } from '../errors.ts'
import { TooLargeError } from '../storage/errors.ts'
import type { CompletedPart } from '../storage/presigned-uploads.ts'
import { filenameProblem } from './filename.ts'

export interface UploadDeclaration {
  filename: string
  size: number
  contentType: string
  sha256?: string | undefined
}

/**
 * `image/<subtype>` only: the header S3 will store and serve. It is a declaration, not a check —
 * the worker still sniffs the real type from the magic bytes.
 */
const imageTypePattern = /^image\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/i
const sha256Pattern = /^[0-9a-f]{64}$/i

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function parseUploadDeclaration(body: unknown, maxUploadBytes: number): UploadDeclaration {
  if (!isRecord(body)) throw invalidField('body', 'filename', 'is required (send a JSON object)')
  const { filename, size, contentType, sha256 } = body
  const problem = filenameProblem(filename)
  if (problem !== undefined) throw invalidField('body', 'filename', problem)
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1)
    throw invalidField('body', 'size', 'must be a whole number of bytes, at least 1')
  if (size > maxUploadBytes) {
    const err = new TooLargeError(maxUploadBytes)
    err.field = 'body.size'
    throw err
  }
  if (typeof contentType !== 'string' || !imageTypePattern.test(contentType))
    throw invalidField('body', 'contentType', 'must be an image type such as image/jpeg')
  if (sha256 !== undefined && (typeof sha256 !== 'string' || !sha256Pattern.test(sha256)))
    throw invalidField('body', 'sha256', 'must be 64 hexadecimal digits (the SHA-256 of the file)')
  // filenameProblem found nothing wrong, so it is a string.
  return { filename: filename as string, size, contentType, sha256: sha256?.toLowerCase() }
}

/**
 * The completion body: `{parts: [{partNumber, etag}]}` for a multipart upload (every part number
 * from 1 to `partCount`, each once: the declared size fixes how many parts there are, and S3
 * would assemble fewer into an object of the wrong size, ending the upload), nothing (or `{}`)
 * for a single PUT.
 */
export function parseCompletion(body: unknown, partCount: number | undefined): CompletedPart[] | undefined {
  if (body === undefined || body === null || (isRecord(body) && Object.keys(body).length === 0)) {
    if (partCount !== undefined)
      throw invalidField('body', 'parts', 'is required: the partNumber and ETag of every part uploaded')
    return undefined
  }
  if (!isRecord(body)) throw invalidField('body', 'parts', 'must be sent in a JSON object')
  if (partCount === undefined)
    throw invalidField('body', 'parts', 'is only for multipart uploads: send an empty body')
  const { parts } = body
  if (!Array.isArray(parts) || parts.length !== partCount)
    throw invalidField('body', 'parts', `must list all ${partCount} parts of the upload, each once`)
  const seen = new Set<number>()
  return parts.map((part: unknown, i) => {
    if (!isRecord(part)) throw invalidField('body', `parts[${i}]`, 'must be {partNumber, etag}')
    const { partNumber, etag } = part
    if (
      typeof partNumber !== 'number' ||
      !Number.isInteger(partNumber) ||
      partNumber < 1 ||
      partNumber > partCount
    )
      throw invalidField('body', `parts[${i}].partNumber`, `must be a whole number from 1 to ${partCount}`)
    if (seen.has(partNumber)) throw invalidField('body', `parts[${i}].partNumber`, 'appears twice')
    seen.add(partNumber)
    if (typeof etag !== 'string' || etag.length === 0 || etag.length > 256)
      throw invalidField('body', `parts[${i}].etag`, "must be the part's ETag (the PUT's ETag header)")
    return { partNumber, etag }
  })
}
