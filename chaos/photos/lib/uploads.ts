/**
 * Uploads the photo experiments make themselves (outside k6): one multipart POST /api/photos, and
 * the hostile files of the corpus (services/photos/test/corpus) with the reason each must fail with.
 */
import { readFile } from 'node:fs/promises'
import { pixelFloodPng, svgWithScript } from '@faultline/photos/corpus'

export interface Uploaded {
  id: string
  status: string
}

/** POST /api/photos as `owner`; throws unless the API answers 201 (the original is in S3). */
export async function uploadPhoto(
  baseUrl: string,
  owner: string,
  bytes: Buffer,
  filename: string,
): Promise<Uploaded> {
  const form = new FormData()
  form.append('file', new Blob([new Uint8Array(bytes)]), filename)
  const res = await fetch(`${baseUrl}/api/photos`, {
    method: 'POST',
    headers: { 'x-user-id': owner },
    body: form,
    signal: AbortSignal.timeout(10_000),
  })
  const body = (await res.json()) as Partial<Uploaded>
  if (res.status !== 201 || typeof body.id !== 'string')
    throw new Error(`upload of ${filename} as ${owner}: HTTP ${res.status} ${JSON.stringify(body)}`)
  return { id: body.id, status: String(body.status) }
}

export interface UploadAnswer {
  /** HTTP status; 0 when no answer came within `timeoutMs`. */
  status: number
  /** The Retry-After header of a refusal, when there is one. */
  retryAfter: string | undefined
  ms: number
}

/** POST /api/photos as `owner`, whatever the answer: what a client saw, and how long it waited. */
export async function tryUpload(
  baseUrl: string,
  owner: string,
  bytes: Buffer,
  timeoutMs = 10_000,
): Promise<UploadAnswer> {
  const form = new FormData()
  form.append('file', new Blob([new Uint8Array(bytes)]), 'probe.jpg')
  const began = Date.now()
  try {
    const res = await fetch(`${baseUrl}/api/photos`, {
      method: 'POST',
      headers: { 'x-user-id': owner },
      body: form,
      signal: AbortSignal.timeout(timeoutMs),
    })
    await res.arrayBuffer()
    return {
      status: res.status,
      retryAfter: res.headers.get('retry-after') ?? undefined,
      ms: Date.now() - began,
    }
  } catch {
    return { status: 0, retryAfter: undefined, ms: Date.now() - began }
  }
}

export interface HostileUpload {
  owner: string
  filename: string
  bytes: Buffer
  /** What the photo's reason must say. */
  reason: string
}

export const hostileUploads = {
  /** The JPEG the k6 script uploads (480×320, EXIF GPS): an ordinary photo's bytes. */
  plainJpeg: () => readFile(new URL('../../../loadtests/photos/fixtures/gps-oriented.jpg', import.meta.url)),
  files: (): HostileUpload[] => [
    {
      owner: 'hostile-flood',
      filename: 'flood.png',
      bytes: pixelFloodPng(),
      reason: 'image too large: 100000×100000 pixels (limit 40 megapixels)',
    },
    {
      owner: 'hostile-svg',
      filename: 'script.svg',
      bytes: svgWithScript,
      reason: 'unsupported type (image/svg+xml)',
    },
  ],
}
