/**
 * The BullMQ side of the worker: one BullMQ Worker per lane with its own slots, the backfill lane
 * paused while the new lane is behind its SLO, and the dead-letter step after the last attempt.
 *
 * Lock renewal: BullMQ renews a job's lock from this process's event loop every lockDuration / 2.
 * The image work runs in a sandboxed thread (sandboxedProcessing), so the loop stays free to
 * renew; a job whose lock lapses is "stalled" and handed to another worker — it runs twice
 * (bullmq#439, pm21).
 */
import { rateLimitedLog } from '@faultline/kit/logging'
import { type ConnectionOptions, DelayedError, type Job, Worker } from 'bullmq'
import type { Keys, Lane } from '../keys.ts'
import type { LaneQueues } from '../queue/lanes.ts'
import type { PhotoRepository } from '../repositories/photos.ts'
import type { PhotoStatus, ProcessJobData } from '../types.ts'
import { type JobOutcome, type ProcessJobDeps, processJob } from './process-job.ts'

export interface LaneWorkerLog {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface LaneWorkersOptions {
  connection: ConnectionOptions
  keys: Keys
  queues: LaneQueues
  job: ProcessJobDeps
  photos: Pick<PhotoRepository, 'markFailed'>
  announce(photoId: string, status: PhotoStatus): Promise<void>
  concurrency: Record<Lane, number>
  /** The backfill lane pauses while the oldest waiting new upload has waited longer than this. */
  newLaneSloMs: number
  /** BullMQ's lock: renewed every half of it; a job not renewed in time is stalled. @default 30 000 */
  lockDurationMs?: number
  /** How often BullMQ looks for stalled jobs (its stalledInterval). @default 30 000 */
  stalledCheckMs?: number
  /** How often the backfill lane checks the new lane's wait. @default 500 */
  sloCheckMs?: number
  /**
   * Each time a processor starts a job: once per attempt, and again for a job whose lock lapsed;
   * `afterStall` when a stalled check had put the job back before (job.stalledCounter > 0; it is
   * never reset, so every later run of such a job — a retry too — says so).
   */
  onRun?(lane: Lane, afterStall: boolean): void
  onOutcome?(lane: Lane, outcome: JobOutcome, job: Job<ProcessJobData>): void
  /** This worker found a job whose lock had lapsed (stalled) and put it back to run again. */
  onStalled?(lane: Lane, jobId: string): void
  onDeadLetter?(lane: Lane, job: Job<ProcessJobData>, reason: string): void
  /**
   * A failure that says "the dependency is away, not this job" (S3 unavailable behind the
   * s3Breaker): the delay before the job is tried again without spending one of its attempts,
   * or undefined to let it fail (and count) as usual. Without it an S3 outage longer than the
   * retries' backoff dead-letters every acknowledged upload that was waiting (pm08).
   */
  deferFor?(error: unknown): number | undefined
  log: LaneWorkerLog
}

export class LaneWorkers {
  readonly #workers: Record<Lane, Worker<ProcessJobData, JobOutcome>>
  readonly #o: LaneWorkersOptions
  #sloTimer: NodeJS.Timeout | undefined
  #backfillHeld = false

  constructor(o: LaneWorkersOptions) {
    this.#o = o
    const make = (lane: Lane) => {
      const worker = new Worker<ProcessJobData, JobOutcome>(
        o.keys.queue(lane),
        async (job, token) => {
          o.onRun?.(lane, job.stalledCounter > 0)
          let outcome: JobOutcome
          try {
            outcome = await processJob(o.job, job.data, job.processedOn ?? Date.now())
          } catch (err) {
            const delayMs = o.deferFor?.(err)
            if (delayMs === undefined || token === undefined) throw err
            // Back to the delayed set with its attempts untouched: the job waits out the outage.
            await job.moveToDelayed(Date.now() + delayMs, token)
            throw new DelayedError()
          }
          o.onOutcome?.(lane, outcome, job)
          return outcome
        },
        {
          connection: o.connection,
          prefix: o.keys.queuePrefix,
          concurrency: o.concurrency[lane],
          lockDuration: o.lockDurationMs ?? 30_000,
          stalledInterval: o.stalledCheckMs ?? 30_000,
          autorun: false,
        },
      )
      worker.on('stalled', (jobId) => o.onStalled?.(lane, jobId))
      worker.on('failed', (job, err) => {
        if (job) void this.#afterFailure(lane, job, err)
      })
      // BullMQ retries its own Redis calls at once: one line per 5 s, the rest counted.
      const logError = rateLimitedLog<{ err: unknown }>(5000, (obj) =>
        o.log.error({ ...obj, lane }, 'lane worker error'),
      )
      worker.on('error', (err) => logError({ err }))
      return worker
    }
    this.#workers = { new: make('new'), backfill: make('backfill') }
  }

  /** Starts consuming both lanes and the backfill lane's SLO watch. */
  start(): void {
    for (const worker of Object.values(this.#workers)) void worker.run()
    this.#sloTimer = setInterval(() => void this.#watchSlo(), this.#o.sloCheckMs ?? 500)
    this.#sloTimer.unref()
  }

  /** Waits for the jobs in progress (up to BullMQ's close), then leaves. */
  async close(): Promise<void> {
    if (this.#sloTimer) clearInterval(this.#sloTimer)
    await Promise.all(Object.values(this.#workers).map((w) => w.close()))
  }

  /** Whether the backfill lane is held back for the new lane right now. */
  get backfillHeld(): boolean {
    return this.#backfillHeld
  }

  /** After the last attempt: the photo is failed, and the job goes to the dead-letter queue. */
  async #afterFailure(lane: Lane, job: Job<ProcessJobData>, err: Error): Promise<void> {
    // Final when BullMQ will not run it again: its attempts are spent, or it stalled more often
    // than allowed (a processor that kills its process: pm17) — then it stays `failed` with
    // attempts left, and only its state says so.
    const attempts = job.opts.attempts ?? 1
    if (job.attemptsMade < attempts && (await job.getState().catch(() => 'unknown')) !== 'failed') return
    const reason = `processing failed ${job.attemptsMade} times: ${err.message}`
    try {
      await this.#o.queues.dead.add(
        'dead',
        { ...job.data, lane, reason, jobId: job.id },
        { removeOnComplete: false },
      )
      await this.#o.photos.markFailed(job.data.photoId, reason)
      await this.#o.announce(job.data.photoId, 'failed')
      this.#o.onDeadLetter?.(lane, job, reason)
    } catch (e) {
      this.#o.log.error({ err: e, photoId: job.data.photoId }, 'dead-lettering failed')
    }
  }

  /** Pauses the backfill worker (locally: other lanes and workers are not affected) while new uploads wait too long. */
  async #watchSlo(): Promise<void> {
    try {
      const [oldest] = await this.#o.queues.queue('new').getWaiting(0, 0)
      const late = oldest !== undefined && Date.now() - oldest.timestamp > this.#o.newLaneSloMs
      const backfill = this.#workers.backfill
      if (late && !this.#backfillHeld) {
        this.#backfillHeld = true
        await backfill.pause(true)
      } else if (!late && this.#backfillHeld) {
        this.#backfillHeld = false
        backfill.resume()
      }
    } catch (err) {
      this.#o.log.warn({ err }, 'backfill SLO check failed')
    }
  }
}
