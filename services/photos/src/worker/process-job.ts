/**
 * One processing job, free of BullMQ (lane-worker.ts calls it): the photo row → its original from
 * S3 → the image work (in a sandboxed thread, or on this event loop with sandboxedProcessing off)
 * → the variants to S3 → the photo `ready` in one transaction → its SSE announcement.
 *
 * What a failure means decides what happens next:
 * - a ProcessingError (unsupported type, too many pixels, corrupt …) is the image's fault: retrying
 *   cannot help, so the photo is `failed` with the reason at once and the job ends (`failed`
 *   outcome, no retry);
 * - anything else (S3 or Postgres unavailable, a crash of the thread) is thrown: BullMQ retries
 *   with backoff, and after the last attempt the lane worker dead-letters it (deadLetter).
 *
 * The time limit (JOB_TIMEOUT_MS) counts from the job's start with timeoutFromStart on; off, from
 * when it was enqueued (pm07's naive: after a backlog every job is "late" before it runs).
 */
import type { Readable } from 'node:stream'
import { isProcessingError, type ProcessingError } from '../processor/errors.ts'
import type { ProcessingLimits } from '../processor/limits.ts'
import type { ProcessedImage } from '../processor/process-image.ts'
import type { PhotoRepository, ProcessedPhoto } from '../repositories/photos.ts'
import type { PhotoStatus, ProcessJobData, Variant } from '../types.ts'

export type JobOutcome =
  | { kind: 'ready'; photoId: string; variants: number }
  | { kind: 'failed'; photoId: string; code: string; reason: string }
  /** The photo is gone (deleted, or a reset removed it): nothing to do. */
  | { kind: 'missing'; photoId: string }

export interface ProcessJobDeps {
  photos: Pick<PhotoRepository, 'byId' | 'markReady' | 'markFailed'>
  /** The original's bytes as a stream (ObjectStore.getStream). */
  readOriginal(key: string): Promise<Readable>
  /** Stores one variant content-addressed and returns its key (ObjectStore.putBuffer + variantKey). */
  putVariant(bytes: Buffer, format: 'webp' | 'jpeg'): Promise<string>
  /** Removes replaced variants' objects after a reprocess (best effort). */
  deleteObject(key: string): Promise<void>
  /** The image work: sandboxed or inline, chosen by the caller from the switch. */
  process(input: Readable, limits: ProcessingLimits, startedAtMs: number): Promise<ProcessedImage>
  /** Announces a terminal status to the photo's SSE streams (Redis pub/sub). */
  announce(photoId: string, status: PhotoStatus): Promise<void>
  limits: ProcessingLimits
  switches: { readonly current: { readonly timeoutFromStart: boolean } }
}

export async function processJob(
  deps: ProcessJobDeps,
  data: ProcessJobData,
  startedAtMs: number,
): Promise<JobOutcome> {
  const photo = await deps.photos.byId(data.photoId)
  if (!photo) return { kind: 'missing', photoId: data.photoId }
  const clockFrom = deps.switches.current.timeoutFromStart ? startedAtMs : data.enqueuedAtMs
  let image: ProcessedImage
  try {
    if (Date.now() - clockFrom > deps.limits.maxTimeMs) {
      // Late before it began: the naive clock (from enqueue) after a backlog. Thrown as a plain
      // error, so BullMQ re-queues it — and it will be late again (pm07).
      throw new Error(`job expired: enqueued ${Math.round((Date.now() - data.enqueuedAtMs) / 1000)} s ago`)
    }
    image = await deps.process(await deps.readOriginal(photo.originalKey), deps.limits, clockFrom)
  } catch (err) {
    if (!isProcessingError(err)) throw err
    return fail(deps, photo.id, err)
  }
  const variants: Variant[] = []
  for (const v of image.variants) {
    const objectKey = await deps.putVariant(v.bytes, v.format)
    variants.push({
      name: v.name,
      format: v.format,
      objectKey,
      width: v.width,
      height: v.height,
      bytes: v.bytes.length,
    })
  }
  const processed: ProcessedPhoto = {
    contentType: image.mime,
    width: image.width,
    height: image.height,
    placeholder: image.placeholder,
    variants,
  }
  const replaced = await deps.photos.markReady(photo.id, processed)
  await deps.announce(photo.id, 'ready')
  for (const old of replaced) await deps.deleteObject(old.objectKey).catch(() => {})
  return { kind: 'ready', photoId: photo.id, variants: variants.length }
}

async function fail(deps: ProcessJobDeps, photoId: string, err: ProcessingError): Promise<JobOutcome> {
  await deps.photos.markFailed(photoId, err.reason)
  await deps.announce(photoId, 'failed')
  return { kind: 'failed', photoId, code: err.code, reason: err.reason }
}
