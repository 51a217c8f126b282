/**
 * Shared by the channel worker's tests (sender, dead-letter, failover): seeding a recipient, a
 * notification and its delivery row straight into Postgres (no API, no Kafka: the worker starts
 * where the router ends), a channel worker built like the process builds it, enqueueing a
 * delivery's job directly, and a bounded wait for a state.
 */
import { createMetrics, type Metrics } from '@faultline/kit/metrics'
import { deliveryId as deliveryIdOf } from '../src/keys.ts'
import type { Mitigations } from '../src/mitigations.ts'
import { deliveryJobOptions } from '../src/queue/queues.ts'
import { type RecipientInput, RecipientRepository } from '../src/repositories/recipients.ts'
import {
  type ChannelWorker,
  type ChannelWorkerTuning,
  createChannelWorker,
} from '../src/sender/components.ts'
import type { Channel, Priority } from '../src/types.ts'
import { type NotificationsHarness, silentLog } from './harness.ts'

export interface SeedOptions {
  channel: Channel
  recipient?: Partial<RecipientInput>
  template?: string
  data?: Record<string, unknown>
  priority?: Priority
  /** Seconds from now the notification expires (negative = already past its TTL). @default 3600 */
  expiresInS?: number
}

export interface Seeded {
  deliveryId: string
  notificationId: string
  recipientId: string
}

let seq = 0

/** A recipient, an accepted notification and its queued delivery for one channel. */
export async function seedDelivery(h: NotificationsHarness, o: SeedOptions): Promise<Seeded> {
  const recipientId = `r-${process.pid}-${++seq}`
  await new RecipientRepository(h.db).put({
    id: recipientId,
    email: `${recipientId}@example.com`,
    phone: '+15550100001',
    pushToken: `push-${recipientId}`,
    webhookUrl: null,
    timezone: 'UTC',
    quietHours: null,
    optOuts: {},
    ...o.recipient,
  })
  const { rows } = await h.db.query<{ id: string }>(
    `INSERT INTO notifications (recipient_id, template, data, channels, category, priority, expires_at)
     VALUES ($1, $2, $3, $4, 'test', $5, now() + make_interval(secs => $6))
     RETURNING id::text`,
    [
      recipientId,
      o.template ?? 'welcome',
      JSON.stringify(o.data ?? { name: 'Ada' }),
      [o.channel],
      o.priority ?? 'normal',
      o.expiresInS ?? 3600,
    ],
  )
  const notificationId = (rows[0] as { id: string }).id
  const deliveryId = deliveryIdOf(notificationId, o.channel)
  await h.deliveries.createMany([{ id: deliveryId, notificationId, channel: o.channel, status: 'queued' }])
  return { deliveryId, notificationId, recipientId }
}

export interface StartedWorker extends ChannelWorker {
  registry: Metrics
}

/**
 * A channel worker on every channel of this test (or `env.WORKER_CHANNELS`), with its own metrics
 * registry, closed (and its queues emptied) after the test.
 */
export function startWorker(
  h: NotificationsHarness,
  env: Record<string, string>,
  mitigations: Partial<Mitigations> = {},
  tuning: ChannelWorkerTuning = {},
): StartedWorker {
  const config = h.config({ ...env, MITIGATIONS: JSON.stringify(mitigations) })
  const registry = createMetrics({ defaultMetrics: false })
  const worker = createChannelWorker(
    config,
    { pool: h.pool(8), queueRedis: h.queueRedis(), metrics: registry, log: silentLog },
    tuning,
  )
  worker.workers.start()
  h.infra.defer(() => worker.close())
  return { ...worker, registry }
}

/** Adds a delivery's job the way the router does (job id = delivery id unless `jobId`). */
export async function enqueue(
  w: ChannelWorker,
  s: Seeded,
  channel: Channel,
  o: { attempts: number; jobId?: string },
): Promise<void> {
  await w.queues.channel[channel].add(
    channel,
    { deliveryId: s.deliveryId, notificationId: s.notificationId, channel },
    deliveryJobOptions({
      deliveryId: s.deliveryId,
      ...(o.jobId ? { jobId: o.jobId } : {}),
      priority: 'normal',
      attempts: o.attempts,
    }),
  )
}

/** Polls `check` until it holds; fails naming `what` after `timeoutMs` (a bound, not an assertion). */
export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000) {
  const giveUpAt = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting: ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** A counter's value for these labels on the worker's registry (0 when never incremented). */
export async function counterValue(
  registry: Metrics,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = registry.registry.getSingleMetric(name)
  const values = (await metric?.get())?.values ?? []
  const hit = values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
  return hit?.value ?? 0
}
