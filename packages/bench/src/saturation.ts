/**
 * Which component saturated first, read from metrics sampled every second during the ramp — not
 * guessed from the latency curve. Each candidate is a signal with a threshold; these are every
 * system's, and a system adds its own queues through its BenchTarget's `signals` (the shortener's
 * `kafka-producer`, below, lives in services/shortener/src/bench-target.ts):
 *
 *   service-cpu     the API's event-loop thread, in cores (≥ 0.9: the one thread Node runs
 *                   JavaScript on is pinned; adding load only adds queueing);
 *   redis-cpu       Redis's main thread, in cores (≥ 0.9: Redis executes commands on one thread);
 *   postgres-pool   requests waiting for a pg pool connection (> 0: the pool, or Postgres behind
 *                   it, is the limit);
 *   (the shortener's kafka-producer: the click spool holding more than one full batch (≥ 5 000 events, the
 *                   default CLICK_BATCH_MAX), or any click dropped because the spool was full:
 *                   a flusher that keeps up empties the spool every CLICK_FLUSH_INTERVAL_MS, so
 *                   between flushes it holds rate × interval (≈ 1 100 at 5 500/s) — a sawtooth,
 *                   not a backlog. Growth between two once-a-second samples cannot tell the two
 *                   apart (it named the producer at 5 500/s while the spool never held a batch);
 *                   a level above a whole batch can: the producer no longer keeps up);
 *   host-cpu        all cores of the machine busy (≥ 95%): on a 2-core machine shared by k6, the
 *                   service and the infrastructure, the machine itself can be the limit;
 *   load-generator  k6 dropped iterations (≥ 1/s): it could not start requests on time — every VU
 *                   busy (a slow service) or k6 itself short of CPU. Listed last, so when the
 *                   service saturated in the same second, the service is named.
 *
 * A signal counts once it stays over its threshold for `sustain` consecutive samples (one sample
 * over is noise). The answer is the signal whose sustained crossing started first among those
 * over their threshold in the knee window (from the ramp into the last sustained step to the end of
 * the knee step): the first thing to run out is the bottleneck; what follows is its consequence.
 */

import type { SystemSignal } from './target.ts'

/** One sample of cumulative counters and gauges, as read (see sampler.ts). */
export interface RawSample {
  /** Epoch ms the sample was taken. */
  tMs: number
  /** Cumulative CPU seconds per watched process/thread (`api`, `api-main`, `worker`, `k6` …). */
  cpuSeconds: Record<string, number | undefined>
  /** /proc/stat jiffies, all cores together. */
  host?: { busy: number; total: number }
  /** Every process's CPU seconds so far, with the group it counts towards (see proc.ts cpuGroup). */
  procs?: { pid: number; group: string; cpuSeconds: number }[]
  redis?: { cpuSeconds: number; mainThreadCpuSeconds?: number; commands: number; opsPerSec: number }
  /** This run's connections (by application_name), the active ones, and all of the database's. */
  pg?: { connections: number; active: number; all?: number }
  /**
   * From the service's /metrics: the generic `processCpuSeconds`, `poolWaiting`, `poolTotal`
   * (see sampler.ts) and the target's own series under their ids.
   */
  metrics?: Record<string, number>
}

/** Per-second values derived from two consecutive raw samples (null: not measured). */
export interface ResourceSample {
  tMs: number
  /** The API's event-loop thread (or, without a pid, its whole process from /metrics), in cores. */
  serviceCpu: number | null
  /** The API process, all threads (GC, libuv pool), in cores. */
  serviceProcessCpu: number | null
  workerCpu: number | null
  k6Cpu: number | null
  /** Fraction 0..1 of all cores busy. */
  hostCpu: number | null
  redisCpu: number | null
  redisOpsPerSec: number | null
  pgConnections: number | null
  pgActive: number | null
  poolWaiting: number | null
  /** The target's own series by id: a gauge as read, a counter per second (null: not measured). */
  system: Record<string, number | null>
  /** Iterations k6 dropped in this second (merged from k6's output by withDropped). */
  k6DroppedPerSec: number | null
  /** CPU in cores per group (api, worker, k6, postgres, redis, kafka, toxiproxy, other). */
  cpuByGroup: Record<string, number>
}

/** A sample in which nothing was measured, with `values` set: for tests of signals and tables. */
export function resourceSample(tMs: number, values: Partial<ResourceSample> = {}): ResourceSample {
  return {
    tMs,
    serviceCpu: null,
    serviceProcessCpu: null,
    workerCpu: null,
    k6Cpu: null,
    hostCpu: null,
    redisCpu: null,
    redisOpsPerSec: null,
    pgConnections: null,
    pgActive: null,
    poolWaiting: null,
    system: {},
    k6DroppedPerSec: null,
    cpuByGroup: {},
    ...values,
  }
}

function rate(a: number | undefined, b: number | undefined, seconds: number): number | null {
  if (a === undefined || b === undefined || !(seconds > 0) || b < a) return null
  return (b - a) / seconds
}

/**
 * Adds k6's dropped iterations per second (from its per-request output, keyed by epoch second) to
 * the samples: a sample at time t covers the second before it.
 */
export function withDropped(
  samples: readonly ResourceSample[],
  droppedBySecond: ReadonlyMap<number, number>,
): ResourceSample[] {
  return samples.map((s) => ({
    ...s,
    k6DroppedPerSec: droppedBySecond.get(Math.floor(s.tMs / 1000) - 1) ?? 0,
  }))
}

/** CPU cores per group between two samples, over the processes alive in both. */
export function cpuByGroup(a: RawSample, b: RawSample, seconds: number): Record<string, number> {
  const out: Record<string, number> = {}
  if (!a.procs || !b.procs || !(seconds > 0)) return out
  const before = new Map(a.procs.map((p) => [p.pid, p.cpuSeconds]))
  for (const p of b.procs) {
    const was = before.get(p.pid)
    if (was === undefined || p.cpuSeconds < was) continue
    out[p.group] = (out[p.group] ?? 0) + (p.cpuSeconds - was) / seconds
  }
  return out
}

/** Whether each of the target's series is a counter (derived as a rate) or a gauge. */
export type MetricKinds = Readonly<Record<string, { kind: 'counter' | 'gauge' }>>

/** Rates between consecutive samples; the first sample only anchors the second. */
export function deriveSamples(raw: readonly RawSample[], systemMetrics: MetricKinds = {}): ResourceSample[] {
  const out: ResourceSample[] = []
  for (let i = 1; i < raw.length; i++) {
    const a = raw[i - 1] as RawSample
    const b = raw[i] as RawSample
    const s = (b.tMs - a.tMs) / 1000
    const cpu = (key: string) => rate(a.cpuSeconds[key], b.cpuSeconds[key], s)
    const metricRate = (key: string) => rate(a.metrics?.[key], b.metrics?.[key], s)
    const system: Record<string, number | null> = {}
    for (const [id, { kind }] of Object.entries(systemMetrics)) {
      system[id] = kind === 'counter' ? metricRate(id) : (b.metrics?.[id] ?? null)
    }
    const hostTotal = a.host && b.host ? b.host.total - a.host.total : 0
    const redisCpu = rate(
      a.redis?.mainThreadCpuSeconds ?? a.redis?.cpuSeconds,
      b.redis?.mainThreadCpuSeconds ?? b.redis?.cpuSeconds,
      s,
    )
    out.push({
      tMs: b.tMs,
      serviceCpu: cpu('api-main') ?? cpu('api') ?? metricRate('processCpuSeconds'),
      serviceProcessCpu: cpu('api') ?? metricRate('processCpuSeconds'),
      workerCpu: cpu('worker'),
      k6Cpu: cpu('k6'),
      hostCpu: a.host && b.host && hostTotal > 0 ? (b.host.busy - a.host.busy) / hostTotal : null,
      redisCpu,
      redisOpsPerSec: rate(a.redis?.commands, b.redis?.commands, s) ?? b.redis?.opsPerSec ?? null,
      pgConnections: b.pg?.connections ?? null,
      pgActive: b.pg?.active ?? null,
      poolWaiting: b.metrics?.poolWaiting ?? null,
      system,
      k6DroppedPerSec: null,
      cpuByGroup: cpuByGroup(a, b, s),
    })
  }
  return out
}

/** The generic signals' ids, or a target signal's own id. */
export type SignalId =
  | 'service-cpu'
  | 'redis-cpu'
  | 'postgres-pool'
  | 'host-cpu'
  | 'load-generator'
  | (string & {})

export interface SignalSpec {
  id: SignalId
  component: string
  threshold: number
  unit: string
  /** The signal's value at sample i (it may look back), or null when not measured. */
  value: (samples: readonly ResourceSample[], i: number) => number | null
}

export interface SaturationThresholds {
  serviceCpu: number
  redisCpu: number
  poolWaiting: number
  hostCpu: number
  droppedPerSec: number
}

export const defaultSaturationThresholds: SaturationThresholds = {
  serviceCpu: 0.9,
  redisCpu: 0.9,
  // "> 0": any waiter at all. Gauges are integers, so ≥ 0.5 means ≥ 1.
  poolWaiting: 0.5,
  hostCpu: 0.95,
  droppedPerSec: 1,
}

/**
 * The generic signals with the target's own after the Postgres pool: in a same-second tie the
 * order decides, and a system's queue is nearer the cause than the machine or the generator.
 */
export function signalSpecs(
  t: SaturationThresholds = defaultSaturationThresholds,
  systemSignals: readonly SystemSignal[] = [],
): SignalSpec[] {
  const own: SignalSpec[] = systemSignals.map((signal) => ({
    id: signal.id,
    component: signal.component,
    threshold: signal.threshold,
    unit: signal.unit,
    value: (s, i) => signal.value(s[i] as ResourceSample),
  }))
  return [
    {
      id: 'service-cpu',
      component: 'service CPU (the API event loop)',
      threshold: t.serviceCpu,
      unit: 'cores',
      value: (s, i) => (s[i] as ResourceSample).serviceCpu,
    },
    {
      id: 'redis-cpu',
      component: 'Redis (main thread CPU)',
      threshold: t.redisCpu,
      unit: 'cores',
      value: (s, i) => (s[i] as ResourceSample).redisCpu,
    },
    {
      id: 'postgres-pool',
      component: 'Postgres pool (requests waiting for a connection)',
      threshold: t.poolWaiting,
      unit: 'waiting',
      value: (s, i) => (s[i] as ResourceSample).poolWaiting,
    },
    ...own,
    {
      id: 'host-cpu',
      component: 'machine CPU (all cores, shared by k6, the service and the infrastructure)',
      threshold: t.hostCpu,
      unit: 'busy fraction',
      value: (s, i) => (s[i] as ResourceSample).hostCpu,
    },
    {
      id: 'load-generator',
      component: 'load generator (k6 dropped iterations: VUs all busy or k6 short of CPU)',
      threshold: t.droppedPerSec,
      unit: 'dropped/s',
      value: (s, i) => (s[i] as ResourceSample).k6DroppedPerSec,
    },
  ]
}

export interface Window {
  startMs: number
  endMs: number
}

export interface SignalReport {
  id: SignalId
  component: string
  threshold: number
  unit: string
  /** Whether the signal was measured at all during the run. */
  measured: boolean
  /** Start of the first sustained crossing that reaches into the window (epoch ms), else null. */
  crossedAtMs: number | null
  /** Highest value in the window, and as a fraction of the threshold. */
  peakInWindow: number | null
  peakRatio: number | null
  /** Mean over the window. */
  meanInWindow: number | null
}

export interface Attribution {
  window: Window
  sustain: number
  /** The first signal to cross, or null when none crossed in the window. */
  saturated: SignalReport | null
  /** Among signals that did not cross: the one nearest its threshold (peak ratio). */
  nearest: SignalReport | null
  signals: SignalReport[]
}

export function attributeSaturation(
  samples: readonly ResourceSample[],
  window: Window,
  options: {
    sustain?: number
    thresholds?: SaturationThresholds
    systemSignals?: readonly SystemSignal[]
  } = {},
): Attribution {
  const sustain = options.sustain ?? 2
  const specs = signalSpecs(options.thresholds, options.systemSignals)
  const reports = specs.map((spec) => reportSignal(spec, samples, window, sustain))
  const crossed = reports
    .map((r, order) => ({ r, order }))
    .filter(({ r }) => r.crossedAtMs !== null)
    // Same second: the order of the specs decides (the service before the machine before k6), as
    // ratios to thresholds in different units do not compare.
    .sort((a, b) => (a.r.crossedAtMs as number) - (b.r.crossedAtMs as number) || a.order - b.order)
  const notCrossed = reports
    .filter((r) => r.crossedAtMs === null && r.peakRatio !== null)
    .sort((a, b) => (b.peakRatio as number) - (a.peakRatio as number))
  return {
    window,
    sustain,
    saturated: crossed[0]?.r ?? null,
    nearest: notCrossed[0] ?? null,
    signals: reports,
  }
}

function reportSignal(
  spec: SignalSpec,
  samples: readonly ResourceSample[],
  window: Window,
  sustain: number,
): SignalReport {
  let measured = false
  let runStart = -1
  let crossedAtMs: number | null = null
  let peak: number | null = null
  let sum = 0
  let count = 0
  for (let i = 0; i < samples.length; i++) {
    const t = (samples[i] as ResourceSample).tMs
    const v = spec.value(samples, i)
    if (v !== null && Number.isFinite(v)) {
      measured = true
      if (t >= window.startMs && t <= window.endMs) {
        peak = peak === null ? v : Math.max(peak, v)
        sum += v
        count++
      }
    }
    const over = v !== null && v >= spec.threshold
    if (over && runStart === -1) runStart = i
    if (!over) runStart = -1
    if (crossedAtMs === null && runStart !== -1 && i - runStart + 1 >= sustain) {
      const startMs = (samples[runStart] as ResourceSample).tMs
      // The run must reach into the window: it either began in it, or began before and is still on.
      if (t >= window.startMs && startMs <= window.endMs) crossedAtMs = startMs
    }
  }
  return {
    id: spec.id,
    component: spec.component,
    threshold: spec.threshold,
    unit: spec.unit,
    measured,
    crossedAtMs,
    peakInWindow: peak,
    peakRatio: peak === null ? null : peak / spec.threshold,
    meanInWindow: count > 0 ? sum / count : null,
  }
}

/** Mean of each resource over a window (per-step tables). Null where nothing was measured. */
export function meanResources(
  samples: readonly ResourceSample[],
  window: Window,
): Partial<Record<keyof ResourceSample, number | null>> {
  const inWindow = samples.filter((s) => s.tMs >= window.startMs && s.tMs <= window.endMs)
  const keys = Object.keys(samples[0] ?? {}).filter(
    (k) => k !== 'tMs' && k !== 'cpuByGroup' && k !== 'system',
  ) as (keyof ResourceSample)[]
  const out: Partial<Record<keyof ResourceSample, number | null>> = {}
  for (const key of keys) {
    const values = inWindow
      .map((s) => s[key])
      .filter((v): v is number => typeof v === 'number' && Number.isFinite(v))
    out[key] = values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : null
  }
  return out
}

/** Mean CPU cores per group over a window (a group absent from a sample counts as 0 there). */
export function meanCpuByGroup(samples: readonly ResourceSample[], window: Window): Record<string, number> {
  const inWindow = samples.filter((s) => s.tMs >= window.startMs && s.tMs <= window.endMs)
  const sums: Record<string, number> = {}
  for (const s of inWindow) for (const [g, v] of Object.entries(s.cpuByGroup)) sums[g] = (sums[g] ?? 0) + v
  const out: Record<string, number> = {}
  for (const [g, v] of Object.entries(sums)) out[g] = v / Math.max(1, inWindow.length)
  return out
}

/** Highest value of one resource over a window. */
export function maxResource(
  samples: readonly ResourceSample[],
  window: Window,
  key: Exclude<keyof ResourceSample, 'cpuByGroup' | 'system'> | { system: string },
): number | null {
  let max: number | null = null
  for (const s of samples) {
    if (s.tMs < window.startMs || s.tMs > window.endMs) continue
    const v = typeof key === 'string' ? s[key] : (s.system[key.system] ?? null)
    if (v !== null && Number.isFinite(v)) max = max === null ? v : Math.max(max, v)
  }
  return max
}

export interface Interruption {
  group: string
  /** First and last sample (epoch ms) in which no process of the group lived through the second. */
  fromMs: number
  toMs: number
}

/**
 * Seconds in which a piece of infrastructure had no process alive from one sample to the next:
 * it was down or restarted. On a shared machine that is usually an experiment someone else runs
 * (the lab kills and restarts Kafka, Redis and Postgres), and what follows in the samples — a
 * growing click spool, a pool wait list — is its consequence, not the load's.
 */
export function infraInterruptions(
  samples: readonly ResourceSample[],
  groups: readonly string[] = ['kafka', 'redis'],
): Interruption[] {
  const out: Interruption[] = []
  for (const group of groups) {
    let seen = false
    let open: Interruption | undefined
    for (const s of samples) {
      if (Object.keys(s.cpuByGroup).length === 0) continue // no process table in this sample
      const present = s.cpuByGroup[group] !== undefined
      if (present) {
        seen = true
        if (open) {
          out.push(open)
          open = undefined
        }
      } else if (seen) {
        if (open) open.toMs = s.tMs
        else open = { group, fromMs: s.tMs, toMs: s.tMs }
      }
    }
    if (open) out.push(open)
  }
  return out.sort((a, b) => a.fromMs - b.fromMs)
}
