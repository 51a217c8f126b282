/**
 * "Reprocess all": every photo's processing job again, on the backfill lane, so new uploads keep
 * their own lane and slots (Immich's #12578: new uploads stuck behind "regenerate all"). Shared by
 * `POST /admin/reprocess` and `scripts/reprocess.ts`.
 *
 * Ids are read a page at a time in id order (a keyset scan: no OFFSET, no snapshot of the whole
 * table in memory), so a run over millions of photos holds one page at once. Photos created
 * during the run are included if their id is above the page being read; they are new uploads and
 * are processed on the new lane anyway. Reprocessing replaces a photo's variants
 * (PhotoRepository.markReady) and leaves it `ready` or `failed` with a fresh reason.
 */
import { randomUUID } from 'node:crypto'
import type { LaneQueues } from '../queue/lanes.ts'
import type { PhotoRepository } from '../repositories/photos.ts'

export interface ReprocessDeps {
  photos: Pick<PhotoRepository, 'idsAfter'>
  queues: Pick<LaneQueues, 'enqueue'>
}

export interface ReprocessProgress {
  runId: string
  /** Photos enqueued so far in this run. */
  enqueued: number
  /** The last id of the page just enqueued (where a resumed scan would continue). */
  lastId: string
}

export interface ReprocessOptions {
  /** Names the run's jobs (`backfill-<photo>-<run>`): a second run reprocesses again. @default a new UUID */
  runId?: string
  /** Photos read and enqueued per page. @default 1000 */
  pageSize?: number
  /** Called after each page, for progress output. */
  onPage?(progress: ReprocessProgress): void
}

export const reprocessPageSize = 1000

/** Enqueues every photo on the backfill lane; resolves once all are enqueued (not processed). */
export async function reprocessAll(
  deps: ReprocessDeps,
  o: ReprocessOptions = {},
): Promise<{ runId: string; enqueued: number }> {
  const runId = o.runId ?? randomUUID()
  const pageSize = o.pageSize ?? reprocessPageSize
  let enqueued = 0
  let after = '0'
  for (;;) {
    const ids = await deps.photos.idsAfter(after, pageSize)
    if (ids.length === 0) break
    // A page at once: the adds pipeline on the queue connection; the next page waits for them,
    // so at most one page of adds is in flight.
    await Promise.all(ids.map((id) => deps.queues.enqueue('backfill', id, runId)))
    enqueued += ids.length
    after = ids[ids.length - 1] as string
    o.onPage?.({ runId, enqueued, lastId: after })
    if (ids.length < pageSize) break
  }
  return { runId, enqueued }
}
