/**
 * Which component saturated during a run at the maximum rate, by @faultline/bench's own method
 * (sampler.ts + saturation.ts, as the knee finder does): every process of the pipeline watched by
 * pid (the API's event-loop thread, the relay, the router, the worker, the providers), the queue
 * Redis' main thread, Postgres' processes, the machine; plus the pipeline's two backlogs, read
 * beside the sampler — the outbox rows not yet relayed (the relay's gauge) and the jobs waiting in
 * the channel queues (BullMQ's counts). The first signal over its threshold for 2 s names the
 * saturated component; the target's signals (src/bench-target.ts) are the thresholds.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import {
  type Attribution,
  attributeSaturation,
  deriveSamples,
  genericMetrics,
  type ResourceSample,
  Sampler,
} from '@faultline/bench'
import target, { type NotificationProcesses } from '../src/bench-target.ts'
import { scrape, total } from './pipeline-probe.ts'

export interface SaturationReport {
  attribution: Attribution
  /** Mean cores per CPU group over the window (api, relay, router, worker, providers, postgres …). */
  meanCores: Record<string, number>
  /** Largest backlogs seen. */
  maxOutboxBacklog: number | null
  maxQueueWaiting: number | null
  samples: number
}

/**
 * Starts sampling every second; `stop(window)` ends it and judges the window (epoch ms). `pending`
 * reads the channel queues' jobs not yet run.
 */
export async function watchSaturation(
  sys: NotificationProcesses,
  pending: () => Promise<number>,
  queueRedisUrl: string,
) {
  const latest: { outboxBacklog?: number; queueWaiting?: number } = {}
  let stopped = false
  const side = (async () => {
    while (!stopped) {
      try {
        latest.outboxBacklog = total(await scrape(sys.roles.relay.url), 'notifications_outbox_backlog')
      } catch {
        // A missed read leaves the last value.
      }
      latest.queueWaiting = await pending().catch(() => latest.queueWaiting ?? 0)
      await sleep(500)
    }
  })()
  const sampler = new Sampler({
    metricsUrl: sys.metricsUrl,
    systemMetrics: { ...genericMetrics, ...target.metrics },
    redisUrl: queueRedisUrl,
    ...(sys.pgApplicationPattern ? { pgApplicationPattern: sys.pgApplicationPattern } : {}),
    maxSamples: 900,
    onSample: (s) => {
      s.metrics = { ...s.metrics, ...latest }
    },
  })
  if (sys.api) sampler.watch('api', sys.api.pid, { mainThread: true })
  for (const role of ['relay', 'router', 'worker', 'providers'] as const) {
    const r = sys.roles[role]
    if (r) sampler.watch(role, r.child.pid)
  }
  await sampler.start()
  return {
    async stop(window: { startMs: number; endMs: number }): Promise<SaturationReport> {
      stopped = true
      await sampler.stop()
      await side
      const kinds = {
        ...target.metrics,
        outboxBacklog: { kind: 'gauge' as const },
        queueWaiting: { kind: 'gauge' as const },
      }
      const samples = deriveSamples(sampler.samples, kinds)
      const inWindow = samples.filter((s) => s.tMs > window.startMs && s.tMs <= window.endMs + 1000)
      return {
        attribution: attributeSaturation(samples, window, { systemSignals: target.signals }),
        meanCores: meanCores(inWindow),
        maxOutboxBacklog: maxOf(inWindow, 'outboxBacklog'),
        maxQueueWaiting: maxOf(inWindow, 'queueWaiting'),
        samples: inWindow.length,
      }
    },
  }
}

function meanCores(samples: readonly ResourceSample[]): Record<string, number> {
  const sums: Record<string, number> = {}
  for (const s of samples) {
    for (const [group, cores] of Object.entries(s.cpuByGroup)) sums[group] = (sums[group] ?? 0) + cores
    if (s.serviceCpu !== null) sums['api-main'] = (sums['api-main'] ?? 0) + s.serviceCpu
    if (s.redisCpu !== null) sums['queue-redis-main'] = (sums['queue-redis-main'] ?? 0) + s.redisCpu
    if (s.hostCpu !== null) sums.machine = (sums.machine ?? 0) + s.hostCpu * 2
  }
  const n = Math.max(1, samples.length)
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / n]))
}

function maxOf(samples: readonly ResourceSample[], id: string): number | null {
  let max: number | null = null
  for (const s of samples) {
    const v = s.system[id]
    if (v !== null && v !== undefined) max = max === null ? v : Math.max(max, v)
  }
  return max
}
