/**
 * One pass of the reaper, the photo system's housekeeping:
 *
 * 1. **Repair**: photos still `processing` well after their upload are enqueued again. An API
 *    that died between its insert and its enqueue (or a queue Redis that lost a job) would leave
 *    an acknowledged upload unprocessed for ever; the job id is the photo's, so a photo whose job
 *    is still queued is not doubled.
 * 2. **Incomplete multipart uploads** older than UPLOAD_TTL_S are aborted: their parts are stored
 *    and billed while invisible (owncloud/ocis#4968).
 * 3. **Orphaned objects** under `incoming/` older than UPLOAD_TTL_S that no photo or upload refers
 *    to (an upload whose row was never written: the API died after S3, or a duplicate whose
 *    delete failed) are deleted; their bytes are counted first (`photos_orphaned_bytes`).
 */
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import type { LaneQueues } from '../queue/lanes.ts'
import type { PhotoRepository } from '../repositories/photos.ts'
import type { ObjectStore } from '../storage/object-store.ts'
import type { PresignedUploads } from '../storage/presigned-uploads.ts'
import type { S3Gate } from '../storage/s3-gate.ts'

export interface ReapDeps {
  photos: Pick<PhotoRepository, 'staleProcessing' | 'referencedKeys'>
  queues: Pick<LaneQueues, 'enqueue'>
  gate: S3Gate
  store: Pick<ObjectStore, 'delete'>
  uploads: Pick<PresignedUploads, 'listIncompleteMultipart' | 'abortMultipart'>
  /** UPLOAD_TTL_S in ms: how old an incomplete upload or an orphan must be. */
  uploadTtlMs: number
  /** How long a photo may stay `processing` before it is enqueued again. @default 60 000 */
  repairAfterMs?: number
}

export interface ReapResult {
  requeued: number
  abortedMultipart: number
  orphansDeleted: number
  orphanBytes: number
}

export async function reapOnce(deps: ReapDeps, now = new Date()): Promise<ReapResult> {
  const result: ReapResult = { requeued: 0, abortedMultipart: 0, orphansDeleted: 0, orphanBytes: 0 }
  const stale = await deps.photos.staleProcessing(
    new Date(now.getTime() - (deps.repairAfterMs ?? 60_000)),
    1000,
  )
  for (const photo of stale) {
    await deps.queues.enqueue('new', photo.id)
    result.requeued++
  }
  const cutoff = new Date(now.getTime() - deps.uploadTtlMs)
  for (const upload of await deps.uploads.listIncompleteMultipart('incoming/', cutoff)) {
    await deps.uploads.abortMultipart(upload.key, upload.uploadId)
    result.abortedMultipart++
  }
  for await (const page of oldObjects(deps.gate, 'incoming/', cutoff)) {
    const referenced = await deps.photos.referencedKeys(page.map((o) => o.key))
    for (const orphan of page.filter((o) => !referenced.has(o.key))) {
      await deps.store.delete(orphan.key)
      result.orphansDeleted++
      result.orphanBytes += orphan.bytes
    }
  }
  return result
}

/** Objects under `prefix` last modified before `olderThan`, a listing page at a time. */
async function* oldObjects(
  gate: S3Gate,
  prefix: string,
  olderThan: Date,
): AsyncGenerator<Array<{ key: string; bytes: number }>> {
  let token: string | undefined
  do {
    const page = await gate.run(() =>
      gate.client.send(
        new ListObjectsV2Command({
          Bucket: gate.bucket,
          Prefix: prefix,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      ),
    )
    const old = (page.Contents ?? [])
      .filter((o) => o.Key && o.LastModified && o.LastModified < olderThan)
      .map((o) => ({ key: o.Key as string, bytes: o.Size ?? 0 }))
    if (old.length > 0) yield old
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token)
}
