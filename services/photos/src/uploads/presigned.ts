/**
 * Presigned uploads: the client sends its bytes straight to S3 — one signed PUT, or signed
 * multipart parts above PRESIGN_MULTIPART_THRESHOLD_BYTES — and then asks the API to complete.
 * The API never saw the bytes, so completing is where it checks them: the object must exist, have
 * the declared size and (when declared) the declared SHA-256, computed by streaming the object
 * back from S3. Only then does it become a photo, through the same acceptStoredOriginal as every
 * other route (dedupe per owner, the job on the new lane).
 *
 * What a completion answers:
 * - 201 a new photo, 200 the owner's existing photo with these bytes, or the photo an earlier
 *   completion of this upload made (completing is idempotent);
 * - 404 an unknown, malformed, expired or another owner's upload id (the same answer for all);
 * - 409 PHOTOS_ERR_UPLOAD_INCOMPLETE (field `params.id`) when there is no object to complete:
 *   nothing was PUT yet, or the multipart upload no longer exists;
 * - 422 PHOTOS_ERR_UPLOAD_MISMATCH naming `body.size` or `body.sha256` — the field of the
 *   upload's declaration (the body of `POST /api/uploads`) the stored object contradicts. The
 *   object is deleted; the upload stays pending, so a single PUT can be sent again to its URL
 *   while the URL is valid and completed again;
 * - 422 PHOTOS_ERR_STORAGE_REJECTED naming `body.parts` when S3 refused the part list
 *   (a wrong ETag, a part other than the last below 5 MiB);
 * - 503 + Retry-After while S3 is unavailable (the storage module's error): nothing changed,
 *   the client completes again later.
 */
import { randomUUID } from 'node:crypto'
import { defineError } from '@faultline/kit/errors'
import { UploadNotFoundError } from '../errors.ts'
import type { PhotoRepository } from '../repositories/photos.ts'
import type { Upload, UploadRepository } from '../repositories/uploads.ts'
import { parseUploadId } from '../repositories/uploads.ts'
import { ObjectNotFoundError, StorageRejectedError } from '../storage/errors.ts'
import type { ObjectStore } from '../storage/object-store.ts'
import type { CompletedPart, PresignedUploads } from '../storage/presigned-uploads.ts'
import type { Photo } from '../types.ts'
import { type AcceptDeps, acceptStoredOriginal } from './accept.ts'
import { parseCompletion, type UploadDeclaration } from './presigned-input.ts'

export const UploadIncompleteError = defineError<[string]>('PHOTOS_ERR_UPLOAD_INCOMPLETE', '%s', 409)
export const UploadMismatchError = defineError<[string]>('PHOTOS_ERR_UPLOAD_MISMATCH', '%s', 422)

/** S3 allows at most 10 000 parts per multipart upload. */
const maxParts = 10_000

type WithField = Error & { field: string }

function withField<E extends Error>(err: E, field: string): E & WithField {
  return Object.assign(err, { field })
}

export interface PresignedFlowDeps {
  uploads: Pick<UploadRepository, 'create' | 'get' | 'markCompleted'>
  photos: Pick<PhotoRepository, 'get'>
  signer: Pick<PresignedUploads, 'presignPut' | 'createMultipart' | 'presignPart' | 'completeMultipart'>
  store: Pick<ObjectStore, 'head' | 'sha256Of' | 'delete'>
  accept: AcceptDeps
  presign: { expiresS: number; multipartThresholdBytes: number; partBytes: number }
  /** UPLOAD_TTL_S in ms: an upload not completed by then is gone (404; the reaper removes its bytes). */
  uploadTtlMs: number
  log: { warn(obj: object, msg: string): void }
}

export type StartedUpload =
  | { id: string; method: 'PUT'; url: string; headers: Record<string, string>; expiresAt: string }
  | {
      id: string
      multipart: { partSize: number; parts: Array<{ partNumber: number; url: string }> }
      expiresAt: string
    }

/** The part size of a multipart upload: PRESIGN_PART_BYTES, or larger when the file needs more than 10 000 parts. */
export function partSizeFor(size: number, partBytes: number): number {
  return Math.max(partBytes, Math.ceil(size / maxParts))
}

/** Creates the upload (row, and the S3 multipart upload above the threshold) and signs its URLs. */
export async function startUpload(
  deps: PresignedFlowDeps,
  ownerId: string,
  declared: UploadDeclaration,
): Promise<StartedUpload> {
  const id = randomUUID()
  const objectKey = `incoming/${ownerId}/${id}`
  const now = Date.now()
  // A URL never outlives its upload: after UPLOAD_TTL_S the reaper removes what it wrote.
  const expiresS = Math.min(deps.presign.expiresS, Math.floor(deps.uploadTtlMs / 1000))
  const row = {
    id,
    ownerId,
    objectKey,
    filename: declared.filename,
    declaredSize: declared.size,
    declaredContentType: declared.contentType,
    declaredSha256: declared.sha256,
    expiresAt: new Date(now + deps.uploadTtlMs),
  }
  if (declared.size <= deps.presign.multipartThresholdBytes) {
    await deps.uploads.create({ ...row, kind: 'presigned' })
    const put = await deps.signer.presignPut(objectKey, {
      contentType: declared.contentType,
      size: declared.size,
      expiresS,
    })
    return { id, method: 'PUT', url: put.url, headers: put.headers, expiresAt: put.expiresAt.toISOString() }
  }
  // S3 first: a row without its multipart upload could never complete; a multipart upload
  // without its row (the insert failed) is aborted by the reaper after UPLOAD_TTL_S.
  const s3UploadId = await deps.signer.createMultipart(objectKey, { contentType: declared.contentType })
  await deps.uploads.create({ ...row, kind: 'multipart', s3UploadId })
  const partSize = partSizeFor(declared.size, deps.presign.partBytes)
  const parts: Array<{ partNumber: number; url: string }> = []
  for (let partNumber = 1; partNumber <= Math.ceil(declared.size / partSize); partNumber++) {
    parts.push({
      partNumber,
      url: await deps.signer.presignPart(objectKey, s3UploadId, partNumber, expiresS),
    })
  }
  return { id, multipart: { partSize, parts }, expiresAt: new Date(now + expiresS * 1000).toISOString() }
}

/** Verifies the upload's object and turns it into a photo; see the module's comment for the answers. */
export async function completeUpload(
  deps: PresignedFlowDeps,
  ownerId: string,
  rawId: string,
  body: unknown,
): Promise<{ photo: Photo; created: boolean }> {
  const upload = await ownedUpload(deps, ownerId, rawId)
  if (upload.status === 'completed' && upload.photoId) {
    const photo = await deps.photos.get(ownerId, upload.photoId)
    if (photo) return { photo, created: false }
  }
  if (upload.status !== 'pending' || upload.expiresAt.getTime() <= Date.now()) throw uploadNotFound(rawId)
  const partCount =
    upload.kind === 'multipart'
      ? Math.ceil(upload.declaredSize / partSizeFor(upload.declaredSize, deps.presign.partBytes))
      : undefined
  const parts = parseCompletion(body, partCount)
  const stored = await verifiedObject(deps, upload, parts)
  // acceptStoredOriginal deletes the object of a duplicate; here the duplicate may be this very
  // upload's photo (two completions at once), whose original must stay — so delete only below.
  const { photo, created } = await acceptStoredOriginal(
    { ...deps.accept, deleteObject: async () => {} },
    {
      ownerId,
      objectKey: upload.objectKey,
      sha256: stored.sha256,
      bytes: stored.bytes,
      filename: upload.filename ?? undefined,
    },
  )
  if (!created && photo.originalKey !== upload.objectKey) {
    await deps.store.delete(upload.objectKey).catch((err: unknown) => {
      deps.log.warn({ err, key: upload.objectKey }, 'could not delete a duplicate upload (the reaper will)')
    })
  }
  await deps.uploads.markCompleted(upload.id, photo.id)
  return { photo, created }
}

async function ownedUpload(deps: PresignedFlowDeps, ownerId: string, rawId: string): Promise<Upload> {
  const id = parseUploadId(rawId)
  const upload = id === undefined ? undefined : await deps.uploads.get(ownerId, id)
  if (!upload || upload.kind === 'tus') throw uploadNotFound(rawId)
  return upload
}

function uploadNotFound(rawId: string): WithField {
  return withField(new UploadNotFoundError(rawId), 'params.id')
}

/**
 * The object, assembled (multipart) and checked against the declaration: its size from a HEAD
 * first (a wrong size is refused without reading the object), then its SHA-256 streamed from S3.
 */
async function verifiedObject(
  deps: PresignedFlowDeps,
  upload: Upload,
  parts: readonly CompletedPart[] | undefined,
): Promise<{ sha256: string; bytes: number }> {
  let head = await deps.store.head(upload.objectKey)
  // A multipart upload already assembled by an earlier completion (which then failed a check
  // or lost its answer) has its object: S3 no longer knows its UploadId.
  if (!head && upload.kind === 'multipart' && upload.s3UploadId && parts) {
    await assemble(deps, upload, parts)
    head = await deps.store.head(upload.objectKey)
  }
  if (!head) throw incomplete(upload, 'no object was uploaded: PUT the file to the upload URL first')
  if (head.bytes !== upload.declaredSize) {
    await discard(deps, upload)
    throw sizeMismatch(upload, head.bytes)
  }
  const stored = await deps.store.sha256Of(upload.objectKey).catch((err: unknown) => {
    if (err instanceof ObjectNotFoundError)
      throw incomplete(upload, 'the object disappeared during the check')
    throw err
  })
  if (stored.bytes !== upload.declaredSize) {
    await discard(deps, upload)
    throw sizeMismatch(upload, stored.bytes)
  }
  if (upload.declaredSha256 && stored.sha256 !== upload.declaredSha256) {
    await discard(deps, upload)
    throw withField(
      new UploadMismatchError(
        `the uploaded object's SHA-256 is ${stored.sha256}, but body.sha256 declared ${upload.declaredSha256}`,
      ),
      'body.sha256',
    )
  }
  return stored
}

async function assemble(
  deps: PresignedFlowDeps,
  upload: Upload,
  parts: readonly CompletedPart[],
): Promise<void> {
  try {
    await deps.signer.completeMultipart(upload.objectKey, upload.s3UploadId as string, parts)
  } catch (err) {
    if (err instanceof StorageRejectedError && err.s3Code === 'NoSuchUpload')
      throw incomplete(upload, 'the multipart upload no longer exists: start a new upload')
    if (err instanceof StorageRejectedError) throw withField(err, 'body.parts')
    throw err
  }
}

/** Wrong bytes are nobody's photo: removed at once rather than left for the reaper. */
async function discard(deps: PresignedFlowDeps, upload: Upload): Promise<void> {
  await deps.store.delete(upload.objectKey).catch((err: unknown) => {
    deps.log.warn({ err, key: upload.objectKey }, 'could not delete a refused upload (the reaper will)')
  })
}

function incomplete(upload: Upload, why: string): WithField {
  return withField(new UploadIncompleteError(`upload ${upload.id}: ${why}`), 'params.id')
}

function sizeMismatch(upload: Upload, actual: number): WithField {
  return withField(
    new UploadMismatchError(
      `the uploaded object has ${actual} bytes, but body.size declared ${upload.declaredSize}`,
    ),
    'body.size',
  )
}
