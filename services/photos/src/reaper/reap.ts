/**
 * One pass of the reaper, the photo system's housekeeping:
 *
 * 1. **Repair**: photos still `processing` well after their upload are enqueued again. An API
 *    that died between its insert and its enqueue (or a queue Redis that lost a job) would leave
 *    an acknowledged upload unprocessed for ever; the job id is the photo's, so a photo whose job
 *    is still queued is not doubled.
 * 2. **Incomplete multipart uploads** older than UPLOAD_TTL_S are aborted: their parts are stored
 *    and billed while invisible (owncloud/ocis#4968); the parts' bytes are counted first
 *    (`photos_orphaned_bytes`).
 * 3. **Finished tus uploads without a photo** (completed a minute ago or more): the finishing hook
 *    failed after the last byte was stored (Postgres or S3 away, the API killed), yet a client's
 *    HEAD says "complete" — an acknowledged upload. The reaper accepts the object as the hook
 *    would have (the same dedupe, then the new lane). A tus upload is recognised by its `.info`
 *    beside the object, which @tus/s3-store writes; its object exists only once complete.
 * 4. **Orphaned objects** under `incoming/` older than UPLOAD_TTL_S that no photo or upload refers
 *    to (an upload whose row was never written: the API died after S3, or a duplicate whose
 *    delete failed) are deleted; their bytes are counted first (`photos_orphaned_bytes`). The
 *    `.info` of a tus upload that became a photo is not an orphan: it expires with the upload
 *    (deleted, counted apart as `tusInfoExpired`, its bytes not orphaned ones).
 */
import { json } from 'node:stream/consumers'
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import type { LaneQueues } from '../queue/lanes.ts'
import type { PhotoRepository } from '../repositories/photos.ts'
import type { ObjectStore } from '../storage/object-store.ts'
import type { PresignedUploads } from '../storage/presigned-uploads.ts'
import type { S3Gate } from '../storage/s3-gate.ts'
import { parseUploadId, tusInfoSuffix } from '../tus/tus-server.ts'
import { type AcceptDeps, acceptStoredOriginal } from '../uploads/accept.ts'

export interface ReapDeps {
  photos: Pick<PhotoRepository, 'staleProcessing' | 'referencedKeys'>
  queues: Pick<LaneQueues, 'enqueue'>
  gate: S3Gate
  store: Pick<ObjectStore, 'delete' | 'sha256Of' | 'getStream'>
  /** How a recovered tus upload becomes a photo: the upload routes' own path. */
  accept: AcceptDeps
  uploads: Pick<PresignedUploads, 'listIncompleteMultipart' | 'abortMultipart' | 'partBytes'>
  /** UPLOAD_TTL_S in ms: how old an incomplete upload or an orphan must be. */
  uploadTtlMs: number
  /** How long a photo may stay `processing` before it is enqueued again. @default 60 000 */
  repairAfterMs?: number
}

export interface ReapResult {
  requeued: number
  /** Finished tus uploads made into photos (their finishing hook had failed). */
  tusRecovered: number
  abortedMultipart: number
  orphansDeleted: number
  /** Bytes of the orphans deleted and of the aborted multipart uploads' parts. */
  orphanBytes: number
  /** `.info` objects of finished tus uploads (the photo exists) removed at their expiry. */
  tusInfoExpired: number
}

export async function reapOnce(deps: ReapDeps, now = new Date()): Promise<ReapResult> {
  const result: ReapResult = {
    requeued: 0,
    tusRecovered: 0,
    abortedMultipart: 0,
    orphansDeleted: 0,
    orphanBytes: 0,
    tusInfoExpired: 0,
  }
  const repairCutoff = new Date(now.getTime() - (deps.repairAfterMs ?? 60_000))
  const stale = await deps.photos.staleProcessing(repairCutoff, 1000)
  for (const photo of stale) {
    await deps.queues.enqueue('new', photo.id)
    result.requeued++
  }
  const cutoff = new Date(now.getTime() - deps.uploadTtlMs)
  for (const upload of await deps.uploads.listIncompleteMultipart('incoming/', cutoff)) {
    result.orphanBytes += await deps.uploads.partBytes(upload.key, upload.uploadId)
    await deps.uploads.abortMultipart(upload.key, upload.uploadId)
    result.abortedMultipart++
  }
  // One listing for both steps: everything at least as old as the younger of the two bounds.
  const listed = new Date(Math.max(repairCutoff.getTime(), cutoff.getTime()))
  for await (const page of oldObjects(deps.gate, 'incoming/', listed)) {
    result.tusRecovered += await recoverFinishedTusUploads(
      deps,
      page.filter((o) => o.lastModified < repairCutoff),
    )
    const expired = page.filter((o) => o.lastModified < cutoff)
    // A tus `.info` belongs to its upload's object: referenced when that object is a photo's.
    const owner = (key: string) => (key.endsWith(tusInfoSuffix) ? key.slice(0, -tusInfoSuffix.length) : key)
    const referenced = await deps.photos.referencedKeys([...new Set(expired.map((o) => owner(o.key)))])
    for (const o of expired) {
      if (referenced.has(o.key)) continue
      await deps.store.delete(o.key)
      if (referenced.has(owner(o.key))) {
        result.tusInfoExpired++
        continue
      }
      result.orphansDeleted++
      result.orphanBytes += o.bytes
    }
  }
  return result
}

/**
 * The page's complete tus uploads (an object with its `.info` beside it) that no photo refers to,
 * accepted as the finishing hook would have. An object whose `.info` falls on the next listing page
 * waits for a later pass.
 */
async function recoverFinishedTusUploads(deps: ReapDeps, page: readonly ListedObject[]): Promise<number> {
  const keys = new Set(page.map((o) => o.key))
  const finished = page
    .map((o) => o.key)
    .filter((key) => keys.has(`${key}${tusInfoSuffix}`) && parseUploadId(key) !== undefined)
  if (finished.length === 0) return 0
  const referenced = await deps.photos.referencedKeys(finished)
  let recovered = 0
  for (const key of finished.filter((k) => !referenced.has(k))) {
    const { ownerId } = parseUploadId(key) as { ownerId: string }
    try {
      const { sha256, bytes } = await deps.store.sha256Of(key)
      const filename = await tusFilename(deps, key)
      await acceptStoredOriginal(deps.accept, { ownerId, objectKey: key, sha256, bytes, filename })
      recovered++
    } catch (err) {
      // One upload that cannot be made a photo now must not stop the pass (or the orphan sweep
      // after it); it is tried again at the next pass.
      deps.accept.log.warn({ err, key }, 'could not recover a finished tus upload; trying again next pass')
    }
  }
  return recovered
}

/**
 * The filename the client gave in its Upload-Metadata, from the upload's `.info` (@tus/s3-store
 * keeps the tus Upload there as JSON, metadata included); acceptStoredOriginal keeps it only if
 * it follows the filename rule. Undefined when it had none or the `.info` cannot be read: the
 * photo is made either way, as the finishing hook would have.
 */
async function tusFilename(deps: ReapDeps, key: string): Promise<string | undefined> {
  try {
    const info = (await json(await deps.store.getStream(`${key}${tusInfoSuffix}`))) as {
      metadata?: { filename?: unknown }
    }
    return typeof info.metadata?.filename === 'string' ? info.metadata.filename : undefined
  } catch (err) {
    deps.accept.log.warn(
      { err, key },
      "could not read a tus upload's .info; recovering it without its filename",
    )
    return undefined
  }
}

interface ListedObject {
  key: string
  bytes: number
  lastModified: Date
}

/** Objects under `prefix` last modified before `olderThan`, a listing page at a time. */
async function* oldObjects(gate: S3Gate, prefix: string, olderThan: Date): AsyncGenerator<ListedObject[]> {
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
      .map((o) => ({ key: o.Key as string, bytes: o.Size ?? 0, lastModified: o.LastModified as Date }))
    if (old.length > 0) yield old
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token)
}
