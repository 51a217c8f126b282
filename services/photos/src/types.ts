/** The photo system's shapes, shared by the API, the worker and the fixture. */

export type PhotoStatus = 'processing' | 'ready' | 'failed'
export type VariantName = 'thumb' | 'preview'
export type VariantFormat = 'webp' | 'jpeg'

/** One derivative, stored content-addressed (`variants/<sha256>.<ext>`). */
export interface Variant {
  name: VariantName
  format: VariantFormat
  objectKey: string
  width: number
  height: number
  bytes: number
}

export interface Photo {
  /** Decimal string (a bigserial). */
  id: string
  ownerId: string
  /** Hex SHA-256 of the original. */
  sha256: string
  bytes: number
  /** From the magic bytes (the worker's sniff), null until processed. */
  contentType: string | null
  originalKey: string
  filename: string | null
  status: PhotoStatus
  /** Why it failed, in words its owner can read; null otherwise. */
  reason: string | null
  width: number | null
  height: number | null
  /** Thumbhash, base64. */
  placeholder: string | null
  createdAt: string
  processedAt: string | null
  variants: Variant[]
}

/** A processing job's data: which photo, on which lane, and when it was enqueued (pm07). */
export interface ProcessJobData {
  photoId: string
  enqueuedAtMs: number
}
