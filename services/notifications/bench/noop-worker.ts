#!/usr/bin/env node
/**
 * The ceiling's consumer (bench/e2e.ts starts it as a child process, like the real channel worker):
 * one BullMQ Worker per channel queue of NOOP_QUEUE_PREFIX on the queue Redis, NOOP_CONCURRENCY
 * jobs at once each, the real worker's lock settings — and a processor that does nothing. What the
 * end-to-end rate is compared with is then BullMQ's own cost per job (fetch, lock, complete, the
 * next fetch) on this Redis, with nothing of the service's: no Postgres claim, no render, no
 * provider request. Prints `ready` once every worker runs; SIGTERM closes them.
 *
 * With NOOP_PROVIDERS_URL (the fake providers' base, `<url>/<provider>/v1/messages`) the processor
 * makes the one thing a delivery cannot do without — the provider request, through the service's
 * own ProviderClient (undici, its keep-alive agent, the job's delivery id as Idempotency-Key) — and
 * nothing else: the send floor, a second ceiling between the no-op job and the real pipeline.
 *
 *   QUEUE_REDIS_URL=redis://127.0.0.1:6380 NOOP_QUEUE_PREFIX=ntf-bench-noop NOOP_CHANNELS=email,sms,push \
 *     node services/notifications/bench/noop-worker.ts
 */
import { type Job, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { channelQueueName } from '../src/keys.ts'
import { createMitigationState } from '../src/mitigations.ts'
import { type Provider, ProviderClient } from '../src/sender/provider-client.ts'
import type { Channel, DeliveryJobData } from '../src/types.ts'

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

/** The provider each channel's send goes to (SMS: the primary, as the worker sends first). */
const providerNames: Record<string, string> = { email: 'email', sms: 'sms-a', push: 'push' }

function processorFor(channel: Channel): (job: Job<DeliveryJobData>) => Promise<void> {
  const providersUrl = process.env.NOOP_PROVIDERS_URL
  if (!providersUrl) return async () => undefined
  const name = providerNames[channel] ?? channel
  const provider: Provider = { name, baseUrl: `${providersUrl}/${name}` }
  return async (job) => {
    const result = await providers.send(
      provider,
      { channel, to: 'bench', body: 'bench' },
      job.data.deliveryId,
    )
    if (result.kind !== 'ok') throw new Error(`${name}: ${result.kind}`)
  }
}

// The service's defaults (config.ts, every mitigation on): PROVIDER_TIMEOUT_MS 10 s, one attempt.
const providers = new ProviderClient({
  switches: createMitigationState(),
  timeoutMs: 10_000,
  naiveTimeoutMs: 1000,
  naiveRetries: 3,
  breaker: { failures: 5, openMs: 5000 },
})
// As the channel worker's connection: BullMQ's rule for a worker (retry commands forever).
const connection = new Redis(url, { maxRetriesPerRequest: null })
const workers = channels.map(
  (channel) =>
    new Worker(channelQueueName(channel), processorFor(channel), {
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
