/**
 * What the API says about a photo: `{id, status, reason?, variants, …}` — the variants as URLs by
 * size and format (`variants.thumb.webp`), through the API (content-addressed, cacheable for a
 * year) or presigned S3 GETs (VARIANT_URLS).
 */
import type { FastifyRequest } from 'fastify'
import type { Photo, VariantFormat, VariantName } from '../types.ts'

/** The URL of a variant's object key, for one request (its host, when no PUBLIC_BASE_URL). */
export type VariantUrls = (request: FastifyRequest) => (objectKey: string) => string | Promise<string>

export interface PhotoView {
  id: string
  status: Photo['status']
  reason?: string
  contentType: string | null
  bytes: number
  sha256: string
  filename: string | null
  width: number | null
  height: number | null
  placeholder: string | null
  variants: Partial<Record<VariantName, Partial<Record<VariantFormat, string>>>>
  createdAt: string
  processedAt: string | null
}

export async function photoView(
  photo: Photo,
  urlOf: (objectKey: string) => string | Promise<string>,
): Promise<PhotoView> {
  const variants: PhotoView['variants'] = {}
  const urls = await Promise.all(photo.variants.map((v) => urlOf(v.objectKey)))
  photo.variants.forEach((v, i) => {
    const byFormat = variants[v.name] ?? {}
    byFormat[v.format] = urls[i] as string
    variants[v.name] = byFormat
  })
  return {
    id: photo.id,
    status: photo.status,
    ...(photo.reason ? { reason: photo.reason } : {}),
    contentType: photo.contentType,
    bytes: photo.bytes,
    sha256: photo.sha256,
    filename: photo.filename,
    width: photo.width,
    height: photo.height,
    placeholder: photo.placeholder,
    variants,
    createdAt: photo.createdAt,
    processedAt: photo.processedAt,
  }
}

/** Variant URLs served by this API (`/api/variants/<sha256>.<ext>`), on PUBLIC_BASE_URL or the request's host. */
export function proxiedVariantUrls(publicBaseUrl: string | undefined): VariantUrls {
  return (request) => {
    const base = publicBaseUrl ?? `${request.protocol}://${request.host}`
    return (objectKey) => `${base}/api/${objectKey}`
  }
}

/**
 * Variant URLs as presigned S3 GETs (VARIANT_URLS=presigned): the bytes come from S3 (or a CDN in
 * front of it), not through the API. Each URL is a capability that expires after `expiresS`; S3
 * serves the object's own headers, so the content-addressed variants keep their immutable
 * Cache-Control. Signing is local (an HMAC), no request to S3.
 */
export function presignedVariantUrls(
  signer: { presignGet(key: string, expiresS: number): Promise<string> },
  expiresS: number,
): VariantUrls {
  return () => (objectKey) => signer.presignGet(objectKey, expiresS)
}
