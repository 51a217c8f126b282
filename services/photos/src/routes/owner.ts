import type { FastifyRequest } from 'fastify'
import { invalidField } from '../errors.ts'

/**
 * An owner id: what a gateway would put in `x-user-id` after verifying the caller. It becomes a
 * segment of S3 keys (`incoming/<owner>/…`), so `.` and `..` are refused: a client normalises them
 * out of a presigned URL's path (its signature then fails), and the key would leave its prefix.
 */
export const ownerPatternSource = '^(?!\\.{1,2}$)[A-Za-z0-9_.:@-]{1,128}$'
const ownerPattern = new RegExp(ownerPatternSource)

/**
 * The caller's identity from `x-user-id` — a stand-in for a gateway-verified identity (the issue:
 * the API trusts the header as a gateway would have set it). Missing or malformed → 400 naming
 * `headers.x-user-id`.
 */
export function ownerOf(request: FastifyRequest): string {
  const raw = request.headers['x-user-id']
  const value = Array.isArray(raw) ? raw[0] : raw
  if (value === undefined || value === '') throw invalidField('headers', 'x-user-id', 'is required')
  if (!ownerPattern.test(value))
    throw invalidField(
      'headers',
      'x-user-id',
      'must be 1–128 characters of letters, digits and _.:@-, and not . or ..',
    )
  return value
}
