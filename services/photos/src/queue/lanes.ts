/**
 * The processing lanes on the queue Redis: BullMQ queues `photos-new` (fresh uploads) and
 * `photos-backfill` ("reprocess all"), and the dead-letter queue `photos-dead`. Two queues rather
 * than priorities in one: a worker slot busy with a long backfill job cannot be taken back by a
 * higher priority, so the new lane gets slots of its own (WORKER_CONCURRENCY_NEW) and the
 * backfill lane pauses while the new lane is behind its SLO (worker side).
 */
import { type ConnectionOptions, type JobsOptions, Queue } from 'bullmq'
import type { Keys, Lane } from '../keys.ts'
import type { ProcessJobData } from '../types.ts'

/** BullMQ's connection from QUEUE_REDIS_URL. Workers need `maxRetriesPerRequest: null` (BullMQ's rule). */
export function queueConnection(url: string): ConnectionOptions {
  const u = new URL(url)
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    maxRetriesPerRequest: null,
  }
}

/**
 * The job id of a photo's processing on a lane. On the new lane it is the photo alone, so a
 * repeated enqueue of a photo (the API retried, the reaper's repair) finds the job already there
 * and adds nothing; a backfill names its run, so "reprocess all" twice reprocesses twice.
 * (BullMQ refuses integer-looking custom ids: hence the letters.)
 */
export function jobIdOf(lane: Lane, photoId: string, runId?: string): string {
  return lane === 'new' ? `new-${photoId}` : `backfill-${photoId}-${runId ?? 'once'}`
}

export interface LaneQueuesOptions {
  connection: ConnectionOptions
  keys: Keys
  /** JOB_ATTEMPTS when deadLetter is on; attempts are fixed when a job is added. */
  attempts: () => number
  /** First retry delay, doubled each attempt with BullMQ's jitter. @default 1000 */
  backoffMs?: number
}

export class LaneQueues {
  readonly #queues: Record<Lane, Queue<ProcessJobData>>
  readonly dead: Queue
  readonly #o: LaneQueuesOptions

  constructor(o: LaneQueuesOptions) {
    this.#o = o
    const make = (name: string) => new Queue(name, { connection: o.connection, prefix: o.keys.queuePrefix })
    this.#queues = { new: make(o.keys.queue('new')), backfill: make(o.keys.queue('backfill')) }
    this.dead = make(o.keys.deadLetterQueue())
  }

  queue(lane: Lane): Queue<ProcessJobData> {
    return this.#queues[lane]
  }

  /** Adds a photo's processing job to a lane (a no-op when its job id is already there). */
  async enqueue(lane: Lane, photoId: string, runId?: string): Promise<void> {
    const opts: JobsOptions = {
      jobId: jobIdOf(lane, photoId, runId),
      attempts: this.#o.attempts(),
      backoff: { type: 'exponential', delay: this.#o.backoffMs ?? 1000, jitter: 1 },
      // Completed jobs carry nothing the photo row does not: drop them; keep failures a while.
      removeOnComplete: true,
      removeOnFail: { count: 10_000 },
    }
    await this.#queues[lane].add('process', { photoId, enqueuedAtMs: Date.now() }, opts)
  }

  /** Jobs waiting (or delayed for a retry) per lane: the backlog. */
  async backlog(): Promise<Record<Lane, number>> {
    const [n, b] = await Promise.all(
      (['new', 'backfill'] as const).map((lane) =>
        this.#queues[lane].getJobCountByTypes('waiting', 'delayed', 'prioritized'),
      ),
    )
    return { new: n ?? 0, backfill: b ?? 0 }
  }

  async close(): Promise<void> {
    await Promise.all([this.#queues.new.close(), this.#queues.backfill.close(), this.dead.close()])
  }
}
