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
import type { ServerResponse } from 'node:http'
import { S3Store, type Options as S3StoreOptions } from '@tus/s3-store'
import { type Locker, Server, type Upload } from '@tus/server'
import { StorageUnavailableError } from '../storage/errors.ts'
import type { ObjectStore } from '../storage/object-store.ts'
import { type S3ClientOptions, s3ClientConfig } from '../storage/s3-client.ts'
import type { S3Gate } from '../storage/s3-gate.ts'
import { type AcceptDeps, acceptStoredOriginal } from '../uploads/accept.ts'

export const tusPath = '/api/tus'
/** @tus/s3-store keeps an upload's state at `<key>.info` (and an unfinished tail at `<key>.part`). */
export const tusInfoSuffix = '.info'

/** The response headers of the completing PATCH (or POST with the whole body). */
export const photoIdHeader = 'Photo-Id'
export const photoStatusHeader = 'Photo-Status'

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const uploadIdPattern = /^incoming\/([^/]+)\/([0-9a-f-]{36})$/

/** The tus store's S3 client: the settings of every other client of the system, and its bucket. */
export type TusS3Options = S3ClientOptions & { bucket: string }

/**
 * The S3 store, with every call of its own S3 client through the system's S3 gate: the same
 * circuit breaker as the other routes (an outage answers 503 + Retry-After at once once the
 * breaker is open, and tus calls count towards opening it) and the same timeouts (the SDK's
 * defaults have none: a hung S3 would hold a PATCH for ever).
 */
class GatedS3Store extends S3Store {
  constructor(options: S3StoreOptions, gate: Pick<S3Gate, 'attachTo'>) {
    super(options)
    gate.attachTo(this.client)
  }
}

export interface TusDeps {
  s3: TusS3Options
  /** The S3 gate of the API's storage (breaker and error mapping). */
  gate: Pick<S3Gate, 'attachTo'>
  store: Pick<ObjectStore, 'sha256Of'>
  accept: AcceptDeps
  locker: Locker
  maxUploadBytes: number
  /** Preferred S3 part size (≥ 5 MiB). */
  partBytes: number
  /** An unfinished upload answers 410 after this long (the reaper removes its bytes). */
  expirationMs: number
}

function nodeResponseOf(req: Request): ServerResponse | undefined {
  return (req as Request & { runtime?: { node?: { res?: ServerResponse } } }).runtime?.node?.res
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

/** Where a tus request that failed unexpectedly is logged (its message stays out of the response). */
export interface TusLog {
  error(obj: object, msg: string): void
}

export function createTusServer(deps: TusDeps, log: TusLog): Server {
  const { bucket, ...client } = deps.s3
  const datastore = new GatedS3Store(
    {
      partSize: deps.partBytes,
      // versitygw (and other S3-compatible servers) may not support object tagging.
      useTags: false,
      expirationPeriodInMilliseconds: deps.expirationMs,
      s3ClientConfig: { ...s3ClientConfig(client), bucket },
    },
    deps.gate,
  )
  return new Server({
    path: tusPath,
    datastore,
    locker: deps.locker,
    maxSize: deps.maxUploadBytes,
    relativeLocation: true,
    // A finished upload's object IS the photo's original (the upload id is its key): a DELETE
    // then would take the bytes of an acknowledged photo. Termination is for unfinished uploads.
    disableTerminationForFinishedUploads: true,
    allowedHeaders: ['x-user-id'],
    exposedHeaders: [photoIdHeader, photoStatusHeader],
    namingFunction: (req) => `incoming/${ownerHeader(req)}/${randomUUID()}`,
    // The URL carries only the uuid; the owner part comes from the caller's own header.
    generateUrl: (_req, { path, id }) => `${path}/${parseUploadId(id)?.uuid ?? ''}`,
    getFileIdFromRequest: (req, lastPath) =>
      lastPath && uuidPattern.test(lastPath) ? `incoming/${ownerHeader(req)}/${lastPath}` : undefined,
    onUploadFinish: async (req, upload) => finishUpload(deps, req, upload),
    onResponseError: (req, err) => {
      if (err instanceof StorageUnavailableError) {
        // tus writes the status and body; the Retry-After header goes on the Node response it
        // writes them to (tus's own handle to it: `req.runtime.node.res`).
        nodeResponseOf(req)?.setHeader('retry-after', String(err.retryAfterS))
        return { status_code: 503, body: 'object storage is unavailable; retry shortly\n' }
      }
      // tus's own answers (a wrong offset, a missing header) carry their status; anything else
      // is a fault whose message (a key, a host) belongs in the log, as the API's other 500s.
      if ((err as { status_code?: unknown }).status_code !== undefined) return undefined
      log.error({ err, method: req.method, url: req.url }, 'tus request failed')
      return { status_code: 500, body: 'Internal Server Error\n' }
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
  // As `POST /api/photos` answers an empty file: no photo (S3 may hold no object for it at all).
  if (upload.size === 0) throw { status_code: 400, body: 'Upload-Length: an empty file is not a photo\n' }
  const { sha256, bytes } = await deps.store.sha256Of(upload.id)
  const filename = upload.metadata?.filename ?? undefined
  const { photo } = await acceptStoredOriginal(deps.accept, {
    ownerId: parsed.ownerId,
    objectKey: upload.id,
    sha256,
    bytes,
    filename,
  })
  return { headers: { [photoIdHeader]: photo.id, [photoStatusHeader]: photo.status } }
}
