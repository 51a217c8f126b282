/**
 * The three runs of bench/e2e.ts: the no-op BullMQ ceiling, the end-to-end burst (accepted →
 * provider 2xx), and the accepted → sent latency at a fixed rate.
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { startChild, stopChild } from '@faultline/bench'
import { repoRoot } from '@faultline/infra'
import { inParallel } from '@faultline/resilience'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import type { NotificationProcesses } from '../src/bench-target.ts'
import { deliveryJobOptions } from '../src/queue/queues.ts'
import type { Channel, DeliveryJobData } from '../src/types.ts'
import {
  acceptedToSentMs,
  channelQueueSet,
  middleRate,
  sentCount,
  trackProgress,
  waitTerminal,
} from './pipeline-probe.ts'

export interface RunRate {
  count: number
  perSecond: number | null
  /** Seconds between 10 % and 90 % of the count. */
  seconds: number | null
  wallSeconds: number
}

/** Waits for `ready` in a child's log (the no-op worker prints it once its workers run). */
async function waitForLine(file: string, line: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      if (readFileSync(file, 'utf8').includes(line)) return
    } catch {
      // Not created yet.
    }
    await sleep(100)
  }
  throw new Error(`${file}: no "${line}" within ${timeoutMs} ms`)
}

export interface CeilingOptions {
  queueRedisUrl: string
  connection: Redis
  prefix: string
  channels: readonly Channel[]
  concurrency: number
  jobs: number
  logDir: string
  /** The send floor: each job makes the provider request (noop-worker.ts, NOOP_PROVIDERS_URL). */
  providersUrl?: string
}

/**
 * The ceiling: `jobs` delivery-shaped jobs (the router's job options) added in bulk over the
 * channel queues of their own prefix while the no-op worker (its own process, the real worker's
 * concurrency per channel) completes them; completed jobs/s over the middle 80 %.
 */
export async function measureCeiling(o: CeilingOptions): Promise<RunRate> {
  const set = channelQueueSet(o.connection, o.prefix, o.channels)
  await set.obliterate()
  const name = o.providersUrl ? 'send-floor-worker' : 'noop-worker'
  const logFile = join(o.logDir, `${name}.log`)
  const child = startChild({
    name,
    command: process.execPath,
    args: [join(repoRoot, 'services', 'notifications', 'bench', 'noop-worker.ts')],
    env: {
      QUEUE_REDIS_URL: o.queueRedisUrl,
      NOOP_QUEUE_PREFIX: o.prefix,
      NOOP_CONCURRENCY: String(o.concurrency),
      NOOP_CHANNELS: o.channels.join(','),
      ...(o.providersUrl ? { NOOP_PROVIDERS_URL: o.providersUrl } : {}),
    },
    cwd: repoRoot,
    logFile,
  })
  try {
    await waitForLine(logFile, 'ready', 30_000)
    const progress = trackProgress(() => set.completed().catch(() => null))
    const started = Date.now()
    const chunk = 500
    for (let i = 0; i < o.jobs; i += chunk) {
      const n = Math.min(chunk, o.jobs - i)
      const byQueue = new Map<number, { name: string; data: DeliveryJobData; opts: object }[]>()
      for (let j = 0; j < n; j++) {
        const q = (i + j) % o.channels.length
        const channel = o.channels[q] as Channel
        const notificationId = randomUUID()
        const id = `${notificationId}-${channel}`
        const job = {
          name: channel,
          data: { deliveryId: id, notificationId, channel } as unknown as DeliveryJobData,
          opts: deliveryJobOptions({ deliveryId: id, priority: 'normal', attempts: 8 }),
        }
        byQueue.set(q, [...(byQueue.get(q) ?? []), job])
      }
      await Promise.all([...byQueue].map(([q, jobs]) => set.queues[q]?.addBulk(jobs)))
    }
    const deadline = Date.now() + 120_000
    while ((await set.completed()) < o.jobs && Date.now() < deadline) await sleep(100)
    const points = await progress.stop()
    const rate = middleRate(points, o.jobs)
    return {
      count: o.jobs,
      perSecond: rate?.perSecond ?? null,
      seconds: rate?.seconds ?? null,
      wallSeconds: (Date.now() - started) / 1000,
    }
  } finally {
    await stopChild(child)
    await set.obliterate()
    await set.close()
  }
}

export interface NotificationRequest {
  recipientId: string
  channels: readonly Channel[]
  priority?: 'critical' | 'normal' | 'low'
}

/** POST /api/notifications with a fresh Idempotency-Key; the id on 202, else undefined. */
export async function postNotification(baseUrl: string, r: NotificationRequest): Promise<string | undefined> {
  try {
    const res = await fetch(`${baseUrl}/api/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: JSON.stringify({
        recipientId: r.recipientId,
        template: 'welcome',
        data: { name: 'Bench' },
        channels: r.channels,
        category: 'bench',
        priority: r.priority ?? 'normal',
      }),
      signal: AbortSignal.timeout(10_000),
    })
    const body = (await res.json().catch(() => undefined)) as { id?: string } | undefined
    return res.status === 202 ? body?.id : undefined
  } catch {
    return undefined
  }
}

export interface BurstResult {
  notifications: number
  accepted: number
  /** The API's accepts/s while the burst was posted (the whole posting time). */
  acceptPerSecond: number
  deliveries: RunRate
  byStatus: Record<string, number>
  drained: boolean
  ids: string[]
}

/**
 * The end-to-end burst: `notifications` posted as fast as `concurrency` requests in flight allow,
 * every process running; deliveries/s from the worker's sent counter (polled every 100 ms) over
 * the middle 80 % of the expected deliveries, then waits for every row to be terminal.
 */
export async function measureBurst(o: {
  baseUrl: string
  workerUrl: string
  pool: pg.Pool
  recipients: readonly string[]
  channels: readonly Channel[]
  notifications: number
  concurrency: number
  timeoutMs: number
}): Promise<BurstResult> {
  const expected = o.notifications * o.channels.length
  const progress = trackProgress(() => sentCount(o.workerUrl))
  await sleep(300)
  const ids: string[] = []
  const started = Date.now()
  await inParallel(o.notifications, o.concurrency, async (i) => {
    const id = await postNotification(o.baseUrl, {
      recipientId: o.recipients[i % o.recipients.length] as string,
      channels: o.channels,
    })
    if (id !== undefined) ids.push(id)
  })
  const postSeconds = (Date.now() - started) / 1000
  const done = await waitTerminal(o.pool, ids, ids.length * o.channels.length, o.timeoutMs)
  const points = await progress.stop()
  const rate = middleRate(points, ids.length * o.channels.length)
  return {
    notifications: o.notifications,
    accepted: ids.length,
    acceptPerSecond: ids.length / postSeconds,
    deliveries: {
      count: expected,
      perSecond: rate?.perSecond ?? null,
      seconds: rate?.seconds ?? null,
      wallSeconds: (Date.now() - started) / 1000,
    },
    byStatus: done.byStatus,
    drained: done.drained,
    ids,
  }
}

export interface DrainResult {
  notifications: number
  accepted: number
  /** Accepts/s while the backlog was posted (relay stopped: the API and Postgres only). */
  acceptPerSecond: number
  deliveries: RunRate
  byStatus: Record<string, number>
  drained: boolean
}

/**
 * The pipeline's maximum: with the relay stopped, `notifications` are accepted (they wait in the
 * outbox), then the relay starts and relay → Kafka → router → BullMQ → worker → provider drains
 * the backlog; deliveries/s from the worker's sent counter over the middle 80 %. `onRelayStarted`
 * runs once the new relay answers /readyz (the saturation watch starts there).
 */
export async function measureDrain(o: {
  sys: NotificationProcesses
  pool: pg.Pool
  recipients: readonly string[]
  channels: readonly Channel[]
  notifications: number
  concurrency: number
  timeoutMs: number
  onRelayStarted: () => Promise<void>
}): Promise<DrainResult> {
  await stopChild(o.sys.roles.relay.child)
  const ids: string[] = []
  const postStart = Date.now()
  await inParallel(o.notifications, o.concurrency, async (i) => {
    const id = await postNotification(o.sys.baseUrl, {
      recipientId: o.recipients[i % o.recipients.length] as string,
      channels: o.channels,
    })
    if (id !== undefined) ids.push(id)
  })
  const acceptPerSecond = ids.length / ((Date.now() - postStart) / 1000)
  const expected = ids.length * o.channels.length
  const progress = trackProgress(() => sentCount(o.sys.roles.worker.url))
  await sleep(300)
  const started = Date.now()
  o.sys.roles.relay = await o.sys.startRole('relay')
  await o.onRelayStarted()
  const done = await waitTerminal(o.pool, ids, expected, o.timeoutMs)
  const points = await progress.stop()
  const rate = middleRate(points, expected)
  return {
    notifications: o.notifications,
    accepted: ids.length,
    acceptPerSecond,
    deliveries: {
      count: expected,
      perSecond: rate?.perSecond ?? null,
      seconds: rate?.seconds ?? null,
      wallSeconds: (Date.now() - started) / 1000,
    },
    byStatus: done.byStatus,
    drained: done.drained,
  }
}

export interface AtRateResult {
  ratePerSecond: number
  seconds: number
  accepted: number
  lateStarts: number
  byStatus: Record<string, number>
  drained: boolean
  latency: Awaited<ReturnType<typeof acceptedToSentMs>>
}

/**
 * Notifications at a fixed rate (open model: each request starts on schedule whether or not the
 * previous answered) for `seconds`; accepted → sent per delivery from the rows (sent_at −
 * created_at, both stamped by Postgres' clock).
 */
export async function measureAtRate(o: {
  baseUrl: string
  pool: pg.Pool
  recipients: readonly string[]
  channels: readonly Channel[]
  ratePerSecond: number
  seconds: number
  timeoutMs: number
}): Promise<AtRateResult> {
  const total = Math.round(o.ratePerSecond * o.seconds)
  const intervalMs = 1000 / o.ratePerSecond
  const ids: string[] = []
  const inFlight: Promise<void>[] = []
  let lateStarts = 0
  const started = Date.now()
  for (let i = 0; i < total; i++) {
    const due = started + i * intervalMs
    const wait = due - Date.now()
    if (wait > 0) await sleep(wait)
    else if (wait < -intervalMs) lateStarts++
    inFlight.push(
      postNotification(o.baseUrl, {
        recipientId: o.recipients[i % o.recipients.length] as string,
        channels: o.channels,
      }).then((id) => {
        if (id !== undefined) ids.push(id)
      }),
    )
  }
  await Promise.all(inFlight)
  const done = await waitTerminal(o.pool, ids, ids.length * o.channels.length, o.timeoutMs)
  return {
    ratePerSecond: o.ratePerSecond,
    seconds: o.seconds,
    accepted: ids.length,
    lateStarts,
    byStatus: done.byStatus,
    drained: done.drained,
    latency: await acceptedToSentMs(o.pool, ids),
  }
}
