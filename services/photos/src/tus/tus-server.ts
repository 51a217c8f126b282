/**
 * Resumable uploads over the tus protocol (tus.io, v1.0.0) with the maintained `@tus/server` and
 * `@tus/s3-store`, mounted at `/api/tus` (routes.ts):
 *
 *   POST  /api/tus          Upload-Length (≤ MAX_UPLOAD_BYTES, else 413) or Upload-Defer-Length,
 *                           Upload-Metadata (`filename` kept) → 201, Location: /api/tus/<uuid>
 *   HEAD  /api/tus/<uuid>   → Upload-Offset, Upload-Length (resume from here)
 *   PATCH /api/tus/<uuid>   Upload-Offset, Content-Type: application/offset+octet-stream → 204
 *                           with the new Upload-Offset; the PATCH that completes the upload also
 *                           carries `Photo-Id` and `Photo-Status` (the photo it became)
 *   DELETE /api/tus/<uuid>  terminates an unfinished upload
 * Every request carries `Tus-Resumable: 1.0.0` and `x-user-id`.
 *
 * Storage: the S3 store writes the upload as a multipart upload at `incoming/<owner>/<uuid>` (the
 * key the other routes use), parts of TUS_PART_BYTES (S3's minimum is 5 MiB; a shorter tail is
 * kept as `<key>.part` until more bytes come), and its info at `<key>.info`. Ownership is by
 * construction: the upload id tus works with is `incoming/<x-user-id>/<uuid>`, built from the
 * caller's header on every request, so another owner's HEAD or PATCH names a key that does not
 * exist and is the same 404 as an unknown id (no existence oracle).
 *
 * Finish: the completed object is hashed by streaming it back from S3 and goes through
 * acceptStoredOriginal like every upload route — the same bytes from the same owner are one photo
 * (the new copy deleted), a new photo is queued on the new lane.
 */
import { randomUUID } from 'node:crypto'
import { S3Store } from '@tus/s3-store'
import { type Locker, Server, type Upload } from '@tus/server'
import { StorageUnavailableError } from '../storage/errors.ts'
import type { ObjectStore } from '../storage/object-store.ts'
import { type AcceptDeps, acceptStoredOriginal } from '../uploads/accept.ts'

export const tusPath = '/api/tus'

/** The response headers of the completing PATCH (or POST with the whole body). */
export const photoIdHeader = 'Photo-Id'
export const photoStatusHeader = 'Photo-Status'

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const uploadIdPattern = /^incoming\/([^/]+)\/([0-9a-f-]{36})$/

export interface TusS3Options {
  endpoint: string
  region: string
  accessKeyId: string
  secretAccessKey: string
  bucket: string
}

export interface TusDeps {
  s3: TusS3Options
  store: Pick<ObjectStore, 'sha256Of'>
  accept: AcceptDeps
  locker: Locker
  maxUploadBytes: number
  /** Preferred S3 part size (≥ 5 MiB). */
  partBytes: number
  /** An unfinished upload answers 410 after this long (the reaper removes its bytes). */
  expirationMs: number
}

/** The owner the gateway named: the route has already refused a request without it. */
function ownerHeader(req: Request): string {
  return req.headers.get('x-user-id') ?? ''
}

/** `incoming/<owner>/<uuid>` → the owner and the uuid (the URL's last segment). */
export function parseUploadId(id: string): { ownerId: string; uuid: string } | undefined {
  const match = uploadIdPattern.exec(id)
  return match?.[1] && match[2] ? { ownerId: match[1], uuid: match[2] } : undefined
}

export function createTusServer(deps: TusDeps): Server {
  const datastore = new S3Store({
    partSize: deps.partBytes,
    // versitygw (and other S3-compatible servers) may not support object tagging.
    useTags: false,
    expirationPeriodInMilliseconds: deps.expirationMs,
    s3ClientConfig: {
      bucket: deps.s3.bucket,
      endpoint: deps.s3.endpoint,
      region: deps.s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: deps.s3.accessKeyId, secretAccessKey: deps.s3.secretAccessKey },
      // As in storage/s3-client.ts: checksums only where S3 requires them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    },
  })
  return new Server({
    path: tusPath,
    datastore,
    locker: deps.locker,
    maxSize: deps.maxUploadBytes,
    relativeLocation: true,
    allowedHeaders: ['x-user-id'],
    exposedHeaders: [photoIdHeader, photoStatusHeader],
    namingFunction: (req) => `incoming/${ownerHeader(req)}/${randomUUID()}`,
    // The URL carries only the uuid; the owner part comes from the caller's own header.
    generateUrl: (_req, { path, id }) => `${path}/${parseUploadId(id)?.uuid ?? ''}`,
    getFileIdFromRequest: (req, lastPath) =>
      lastPath && uuidPattern.test(lastPath) ? `incoming/${ownerHeader(req)}/${lastPath}` : undefined,
    onUploadFinish: async (req, upload) => finishUpload(deps, req, upload),
    onResponseError: (_req, err) => {
      if (err instanceof StorageUnavailableError)
        return { status_code: 503, body: 'object storage is unavailable; retry shortly\n' }
      return undefined
    },
  })
}

/** The completed object becomes a photo (or is the owner's existing one with the same bytes). */
async function finishUpload(
  deps: TusDeps,
  req: Request,
  upload: Upload,
): Promise<{ headers: Record<string, string> }> {
  const parsed = parseUploadId(upload.id)
  if (!parsed || parsed.ownerId !== ownerHeader(req))
    throw { status_code: 404, body: 'The file for this url was not found\n' }
  const { sha256, bytes } = await deps.store.sha256Of(upload.id)
  const filename = upload.metadata?.filename ?? undefined
  const { photo } = await acceptStoredOriginal(deps.accept, {
    ownerId: parsed.ownerId,
    objectKey: upload.id,
    sha256,
    bytes,
    filename: filename || undefined,
  })
  return { headers: { [photoIdHeader]: photo.id, [photoStatusHeader]: photo.status } }
}
