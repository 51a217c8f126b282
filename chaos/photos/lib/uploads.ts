/**
 * Uploads the photo experiments make themselves (outside k6): one multipart POST /api/photos, and
 * the hostile files of the corpus (services/photos/test/corpus) with the reason each must fail with.
 */
import { readFile } from 'node:fs/promises'
import { pixelFloodPng, svgWithScript } from '../../../services/photos/test/corpus/corpus.ts'

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
