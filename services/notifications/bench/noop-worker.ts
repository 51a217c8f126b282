#!/usr/bin/env node
/**
 * The ceiling's consumer (bench/e2e.ts starts it as a child process, like the real channel worker):
 * one BullMQ Worker per channel queue of NOOP_QUEUE_PREFIX on the queue Redis, NOOP_CONCURRENCY
 * jobs at once each, the real worker's lock settings — and a processor that does nothing. What the
 * end-to-end rate is compared with is then BullMQ's own cost per job (fetch, lock, complete, the
 * next fetch) on this Redis, with nothing of the service's: no Postgres claim, no render, no
 * provider request. Prints `ready` once every worker runs; SIGTERM closes them.
 *
 *   QUEUE_REDIS_URL=redis://127.0.0.1:6380 NOOP_QUEUE_PREFIX=ntf-bench-noop NOOP_CHANNELS=email,sms,push \
 *     node services/notifications/bench/noop-worker.ts
 */
import { Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { channelQueueName } from '../src/keys.ts'
import type { Channel } from '../src/types.ts'

const url = process.env.QUEUE_REDIS_URL
const prefix = process.env.NOOP_QUEUE_PREFIX
const concurrency = Number(process.env.NOOP_CONCURRENCY ?? '20')
const channels = (process.env.NOOP_CHANNELS ?? 'email,sms,push').split(',') as Channel[]
if (!url || !prefix || !(concurrency >= 1)) {
  process.stderr.write(
    'noop-worker: QUEUE_REDIS_URL, NOOP_QUEUE_PREFIX and NOOP_CONCURRENCY ≥ 1 are required\n',
  )
  process.exit(2)
}

// As the channel worker's connection: BullMQ's rule for a worker (retry commands forever).
const connection = new Redis(url, { maxRetriesPerRequest: null })
const workers = channels.map(
  (channel) =>
    new Worker(channelQueueName(channel), async () => undefined, {
      connection,
      prefix,
      concurrency,
      lockDuration: 30_000,
      stalledInterval: 30_000,
      maxStalledCount: 1,
    }),
)
await Promise.all(workers.map((w) => w.waitUntilReady()))
process.stdout.write('ready\n')

const stop = async () => {
  await Promise.all(workers.map((w) => w.close()))
  connection.disconnect()
  process.exit(0)
}
process.once('SIGTERM', () => void stop())
process.once('SIGINT', () => void stop())
