/**
 * Turning stored bytes into a photo, for every upload route (direct multipart, presigned, tus):
 * the row (or the owner's existing photo with the same bytes), then its job on the new lane.
 *
 * The order is the durability argument: the object is in S3 before the row, the row commits
 * before the job is added, and the 201 goes out after both. If the enqueue fails (the queue Redis
 * is down), the row stays `processing` and the reaper enqueues it again (PhotoRepository.
 * staleProcessing): the upload was acknowledged, so it must not depend on this one call.
 */
import type { LaneQueues } from '../queue/lanes.ts'
import type { PhotoRepository } from '../repositories/photos.ts'
import type { Photo } from '../types.ts'
import { usableFilename } from './filename.ts'

export interface AcceptDeps {
  photos: Pick<PhotoRepository, 'createOrFind'>
  queues: Pick<LaneQueues, 'enqueue'>
  /** Deletes an object stored for nothing (a duplicate of an existing photo). */
  deleteObject(key: string): Promise<void>
  log: { warn(obj: object, msg: string): void }
}

export interface StoredOriginal {
  ownerId: string
  objectKey: string
  sha256: string
  bytes: number
  /** The client's name for it; kept only if it follows the filename rule (filename.ts). */
  filename?: string | undefined
}

export async function acceptStoredOriginal(
  deps: AcceptDeps,
  stored: StoredOriginal,
): Promise<{ photo: Photo; created: boolean }> {
  const { photo, created } = await deps.photos.createOrFind({
    ownerId: stored.ownerId,
    sha256: stored.sha256,
    bytes: stored.bytes,
    originalKey: stored.objectKey,
    filename: usableFilename(stored.filename),
  })
  if (!created) {
    // The same bytes from the same owner are already a photo: this copy is not needed — unless it
    // is that photo's own original, accepted again (a retried finish, the reaper's recovery).
    if (photo.originalKey === stored.objectKey) return { photo, created }
    await deps.deleteObject(stored.objectKey).catch((err: unknown) => {
      deps.log.warn({ err, key: stored.objectKey }, 'could not delete a duplicate upload (the reaper will)')
    })
    return { photo, created }
  }
  try {
    await deps.queues.enqueue('new', photo.id)
  } catch (err) {
    deps.log.warn({ err, photoId: photo.id }, 'enqueue failed; the reaper will enqueue the photo again')
  }
  return { photo, created }
}
