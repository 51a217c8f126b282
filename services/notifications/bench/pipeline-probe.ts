/**
 * Reading the running pipeline from outside, for the benchmark and the soak: a process's counters
 * from its /metrics, the channel queues' counts from BullMQ, delivery states and accepted → sent
 * latencies from Postgres (the delivery rows are the truth), a progress timeline and its rate over
 * the middle of a run.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { type MetricSample, parsePrometheusText, summarizeLatency } from '@faultline/measure'
import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { channelQueueName } from '../src/keys.ts'
import type { Channel } from '../src/types.ts'

export async function scrape(url: string): Promise<MetricSample[]> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })
  return parsePrometheusText(await res.text())
}

/** The sum of the series named `name` whose labels include `labels`. */
export function total(
  samples: readonly MetricSample[],
  name: string,
  labels: Record<string, string> = {},
): number {
  let sum = 0
  for (const s of samples) {
    if (s.name !== name) continue
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value
  }
  return sum
}

/** `notifications_deliveries_total{outcome="sent"}` of a worker, or null when it does not answer. */
export async function sentCount(workerUrl: string): Promise<number | null> {
  try {
    return total(await scrape(workerUrl), 'notifications_deliveries_total', { outcome: 'sent' })
  } catch {
    return null
  }
}

/** The channel queues of one prefix, to count their jobs. */
export function channelQueueSet(connection: Redis, prefix: string, channels: readonly Channel[]) {
  const queues = channels.map((c) => new Queue(channelQueueName(c), { connection, prefix }))
  return {
    queues,
    /** Jobs not yet run: waiting, prioritized, delayed (retries, quiet hours) and active. */
    async pending(): Promise<number> {
      let n = 0
      for (const q of queues) {
        const c = await q.getJobCounts('waiting', 'prioritized', 'delayed', 'active')
        n += (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0) + (c.active ?? 0)
      }
      return n
    },
    async completed(): Promise<number> {
      let n = 0
      for (const q of queues) n += (await q.getJobCounts('completed')).completed ?? 0
      return n
    },
    async obliterate(): Promise<void> {
      for (const q of queues) await q.obliterate({ force: true }).catch(() => undefined)
    },
    close: () => Promise.all(queues.map((q) => q.close())),
  }
}

/** Delivery rows by status for these notifications. */
export async function deliveryStatuses(
  pool: pg.Pool,
  notificationIds: readonly string[],
): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ status: string; n: string }>(
    'SELECT status, count(*) AS n FROM deliveries WHERE notification_id = ANY($1::uuid[]) GROUP BY status',
    [notificationIds],
  )
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]))
}

export const terminal = ['sent', 'dead_lettered', 'expired', 'suppressed'] as const

/** Sum of the terminal statuses. */
export function terminalCount(byStatus: Record<string, number>): number {
  return terminal.reduce((n, s) => n + (byStatus[s] ?? 0), 0)
}

/**
 * Polls until every one of `expectedDeliveries` rows of these notifications is terminal, or
 * `timeoutMs` passed; returns the last counts.
 */
export async function waitTerminal(
  pool: pg.Pool,
  notificationIds: readonly string[],
  expectedDeliveries: number,
  timeoutMs: number,
  pollMs = 500,
): Promise<{ byStatus: Record<string, number>; drained: boolean }> {
  const deadline = Date.now() + timeoutMs
  let byStatus: Record<string, number> = {}
  while (Date.now() < deadline) {
    byStatus = await deliveryStatuses(pool, notificationIds)
    if (terminalCount(byStatus) >= expectedDeliveries) return { byStatus, drained: true }
    await sleep(pollMs)
  }
  return { byStatus, drained: false }
}

/** Accepted (notifications.created_at) → sent (deliveries.sent_at), ms, for these notifications. */
export async function acceptedToSentMs(pool: pg.Pool, notificationIds: readonly string[]) {
  const { rows } = await pool.query<{ ms: number }>(
    `SELECT (extract(epoch FROM d.sent_at - n.created_at) * 1000)::float8 AS ms
       FROM deliveries d JOIN notifications n ON n.id = d.notification_id
      WHERE n.id = ANY($1::uuid[]) AND d.status = 'sent'`,
    [notificationIds],
  )
  return summarizeLatency(rows.map((r) => r.ms))
}

/** (epoch ms, cumulative count) points, sampled by a poller. */
export type Progress = { tMs: number; count: number }[]

/** Polls `read` every `intervalMs` until `stop()`; the points are cumulative from the first. */
export function trackProgress(read: () => Promise<number | null>, intervalMs = 100) {
  const points: Progress = []
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      const count = await read()
      if (count !== null) points.push({ tMs: Date.now(), count })
      await sleep(intervalMs)
    }
  })()
  return {
    points,
    async stop(): Promise<Progress> {
      stopped = true
      await loop
      return points
    },
  }
}

/**
 * The rate over the middle of a run: `expected` events counted from the first point, the time
 * between 10 % and 90 % of them (interpolated between points), so neither the start-up nor the
 * tail of the last few stragglers counts. Null when the run did not reach 90 %.
 */
export function middleRate(
  points: Progress,
  expected: number,
): { perSecond: number; seconds: number } | null {
  const base = points[0]?.count ?? 0
  const at = (fraction: number): number | null => {
    const goal = base + fraction * expected
    for (let i = 1; i < points.length; i++) {
      const a = points[i - 1] as Progress[number]
      const b = points[i] as Progress[number]
      if (b.count >= goal) {
        if (b.count === a.count) return b.tMs
        return a.tMs + ((goal - a.count) / (b.count - a.count)) * (b.tMs - a.tMs)
      }
    }
    return null
  }
  const t10 = at(0.1)
  const t90 = at(0.9)
  if (t10 === null || t90 === null || t90 <= t10) return null
  const seconds = (t90 - t10) / 1000
  return { perSecond: (0.8 * expected) / seconds, seconds }
}
