/**
 * The BullMQ side of the channel workers: one BullMQ Worker per served channel on `ntf-<channel>`
 * (a slow provider fills its own channel's slots only), each running processDelivery with
 * WORKER_CONCURRENCY slots and the full-jitter backoff strategy.
 *
 * At-least-once: a job whose lock is not renewed (its worker killed, SIGSTOPped, its event loop
 * blocked) is "stalled" and runs again (bullmq#439); the delivery record's claim makes the second
 * run skip what the first one sent. A job that stalled more often than BullMQ allows is failed by
 * BullMQ with "job stalled more than allowable limit", outside the processor: the `failed` handler
 * dead-letters it `exhausted` too, so it is not lost silently (as photos does for its lanes).
 */
import { rateLimitedLog } from '@faultline/kit/logging'
import { DelayedError, type Job, Worker } from 'bullmq'
import type { Redis } from 'ioredis'
import { channelQueueName } from '../keys.ts'
import type { MitigationState } from '../mitigations.ts'
import { claimableStatuses, type DeliveryRepository } from '../repositories/deliveries.ts'
import type { Channel, DeliveryJobData } from '../types.ts'
import { DeferredSendError, jitterBackoff } from './backoff.ts'
import type { DeadLetters } from './dead-letter.ts'
import type { DeliveryOutcome, SenderMetrics } from './metrics.ts'
import { type DeliveryRun, PoisonDroppedError } from './process-delivery.ts'

export interface ChannelWorkerLog {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface ChannelWorkersOptions {
  /** An ioredis client made for BullMQ (`maxRetriesPerRequest: null`); not closed here. */
  connection: Redis
  prefix: string
  channels: Channel[]
  concurrency: number
  backoff: { baseMs: number; capMs: number }
  process(run: DeliveryRun): Promise<DeliveryOutcome>
  deadLetters: Pick<DeadLetters, 'deadLetter'>
  deliveries: Pick<DeliveryRepository, 'get'>
  switches: MitigationState
  metrics: SenderMetrics
  log: ChannelWorkerLog
  /** BullMQ's lock, renewed every half of it. @default 30 000 */
  lockDurationMs?: number
  /** How often stalled jobs are looked for. @default 30 000 */
  stalledIntervalMs?: number
  /** Stalls allowed before BullMQ fails the job. @default 1 */
  maxStalledCount?: number
}

export class ChannelWorkers {
  readonly workers: ReadonlyMap<Channel, Worker<DeliveryJobData, DeliveryOutcome>>
  readonly #o: ChannelWorkersOptions

  constructor(o: ChannelWorkersOptions) {
    this.#o = o
    const workers = new Map<Channel, Worker<DeliveryJobData, DeliveryOutcome>>()
    for (const channel of o.channels) workers.set(channel, this.#make(channel))
    this.workers = workers
  }

  /** Starts consuming every served channel. */
  start(): void {
    for (const w of this.workers.values()) void w.run()
  }

  /** Waits for the jobs in progress (BullMQ's close), then leaves. */
  async close(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.close()))
  }

  #make(channel: Channel): Worker<DeliveryJobData, DeliveryOutcome> {
    const o = this.#o
    const worker = new Worker<DeliveryJobData, DeliveryOutcome>(
      channelQueueName(channel),
      async (job, token) => {
        try {
          return await o.process({
            data: job.data,
            attemptsMade: job.attemptsMade,
            attempts: job.opts.attempts ?? 1,
          })
        } catch (err) {
          if (!(err instanceof DeferredSendError) || token === undefined) throw err
          // Back to the delayed set with its attempts untouched: the provider said "not now".
          await job.moveToDelayed(Date.now() + err.delayMs, token)
          throw new DelayedError()
        }
      },
      {
        connection: o.connection,
        prefix: o.prefix,
        concurrency: o.concurrency,
        autorun: false,
        lockDuration: o.lockDurationMs ?? 30_000,
        stalledInterval: o.stalledIntervalMs ?? 30_000,
        maxStalledCount: o.maxStalledCount ?? 1,
        settings: { backoffStrategy: jitterBackoff(o.backoff) },
      },
    )
    worker.on('failed', (job, err) => {
      if (job) void this.#afterFailure(job, err)
    })
    // BullMQ retries its own Redis calls at once: one line per 5 s, the rest counted.
    const logError = rateLimitedLog<{ err: unknown }>(5000, (obj) =>
      o.log.error({ ...obj, channel }, 'channel worker error'),
    )
    worker.on('error', (err) => logError({ err }))
    return worker
  }

  /**
   * A job BullMQ gave up on outside processDelivery's own dead-lettering: it stalled too often,
   * or its last attempt threw before it could settle (Postgres down). Dead-lettered `exhausted`
   * when the deadLetter switch is on; the delivery's own guard keeps a sent one sent.
   */
  async #afterFailure(job: Job<DeliveryJobData>, err: Error): Promise<void> {
    if (!this.#o.switches.current.deadLetter || err instanceof PoisonDroppedError) return
    const stalledOut = Boolean(job.deferredFailure)
    const final = stalledOut || job.attemptsMade >= (job.opts.attempts ?? 1)
    if (!final) return
    const reason = stalledOut
      ? `stalled more than allowed (its worker died or stopped mid-job): ${err.message}`
      : `failed ${job.attemptsMade} times, last: ${err.message}`
    try {
      const d = await this.#o.deliveries.get(job.data.deliveryId)
      if (!d || !claimableStatuses.includes(d.status)) return
      await this.#o.deadLetters.deadLetter({ ...job.data, attempts: d.attempts }, 'exhausted', reason)
      this.#o.metrics.delivery(job.data.channel, 'dead_lettered')
    } catch (e) {
      this.#o.log.error({ err: e, deliveryId: job.data.deliveryId }, 'dead-lettering a failed job failed')
    }
  }
}
