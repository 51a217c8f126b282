/**
 * Every name the photo system uses in Redis, built here and nowhere else (the services, the
 * fixture and the experiments share it): the BullMQ queues on the queue Redis (`QUEUE_REDIS_URL`,
 * under `QUEUE_PREFIX`) and the few keys on the cache Redis (`REDIS_URL`, under
 * `REDIS_KEY_PREFIX`).
 */
export const lanes = ['new', 'backfill'] as const
export type Lane = (typeof lanes)[number]

export class Keys {
  readonly prefix: string
  readonly queuePrefix: string

  constructor(prefix = 'photos', queuePrefix = 'photos') {
    this.prefix = prefix
    this.queuePrefix = queuePrefix
  }

  /**
   * A processing lane's BullMQ queue: `photos-new` takes fresh uploads, `photos-backfill` the
   * "reprocess all" jobs, so a backfill never sits in front of a new upload's thumbnail.
   */
  queue(lane: Lane): string {
    return `photos-${lane}`
  }

  /** Jobs that exhausted their attempts (deadLetter), each with the photo id and the reason. */
  deadLetterQueue(): string {
    return 'photos-dead'
  }

  /** Pub/sub channel announcing a photo's terminal status (`ready`/`failed`) to SSE streams. */
  photoEvents(photoId: string): string {
    return `${this.prefix}:events:${photoId}`
  }

  /** The cross-instance lock of one tus upload (tusd#1129: a memory locker is per process). */
  tusLock(uploadId: string): string {
    return `${this.prefix}:tus-lock:${uploadId}`
  }

  /** Glob of every cache key of this prefix (fixture reset). */
  all(): string {
    return `${this.prefix}:*`
  }
}
