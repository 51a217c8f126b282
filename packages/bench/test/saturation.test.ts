import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  attributeSaturation,
  cpuByGroup,
  deriveSamples,
  infraInterruptions,
  meanCpuByGroup,
  type RawSample,
  type ResourceSample,
  resourceSample,
  withDropped,
} from '../src/saturation.ts'
import type { BenchTarget } from '../src/target.ts'

const t0 = 1_700_000_000_000
/** A system's own series and signal, as a BenchTarget declares them (a queue of its own). */
const own: Pick<BenchTarget, 'metrics' | 'signals'> = {
  metrics: {
    queued: { kind: 'gauge', select: [] },
    handled: { kind: 'counter', select: [] },
    dropped: { kind: 'counter', select: [] },
  },
  signals: [
    {
      id: 'own-queue',
      component: "the system's queue",
      threshold: 5000,
      unit: 'items',
      value: (s) => s.system.queued ?? null,
    },
  ],
}
const ownSignals = { systemSignals: own.signals }

/** A synthetic per-second series: every field null unless `values` sets it for that second. */
function series(seconds: number, values: (i: number) => Partial<ResourceSample>): ResourceSample[] {
  return Array.from({ length: seconds }, (_, i) => resourceSample(t0 + i * 1000, values(i)))
}

const at = (second: number) => t0 + second * 1000
const window = { startMs: at(10), endMs: at(20) }

test('deriveSamples turns cumulative counters into per-second rates', () => {
  const raw: RawSample[] = [
    {
      tMs: t0,
      cpuSeconds: { api: 10, 'api-main': 8, k6: 5 },
      host: { busy: 1000, total: 2000 },
      redis: { cpuSeconds: 3, mainThreadCpuSeconds: 2, commands: 100, opsPerSec: 0 },
      metrics: { handled: 50, queued: 10, poolWaiting: 0, dropped: 0 },
    },
    {
      tMs: t0 + 2000,
      cpuSeconds: { api: 11.5, 'api-main': 9, k6: 6 },
      host: { busy: 1300, total: 2400 },
      redis: { cpuSeconds: 3.5, mainThreadCpuSeconds: 2.2, commands: 700, opsPerSec: 290 },
      metrics: { handled: 250, queued: 40, poolWaiting: 2, dropped: 0 },
      pg: { connections: 11, active: 3 },
    },
  ]
  const [d] = deriveSamples(raw, { ...own.metrics, absent: { kind: 'counter' } })
  assert.ok(d)
  assert.equal(d.serviceCpu, 0.5) // the event-loop thread, preferred over the process
  assert.equal(d.serviceProcessCpu, 0.75)
  assert.equal(d.k6Cpu, 0.5)
  assert.equal(d.hostCpu, 0.75)
  assert.ok(Math.abs((d.redisCpu ?? 0) - 0.1) < 1e-9) // main thread, not the whole server
  assert.equal(d.redisOpsPerSec, 300)
  assert.equal(d.system.handled, 100) // a counter: per second
  assert.equal(d.system.queued, 40) // a gauge: as read
  assert.equal(d.poolWaiting, 2)
  assert.equal(d.pgConnections, 11)
  assert.equal(d.system.dropped, 0)
  assert.equal(d.system.absent, null) // not in the scrape: not measured
  assert.equal(d.workerCpu, null)
})

test('a counter that went backwards (a restart) gives no rate rather than a negative one', () => {
  const [d] = deriveSamples([
    { tMs: t0, cpuSeconds: {}, metrics: { processCpuSeconds: 50 } },
    { tMs: t0 + 1000, cpuSeconds: {}, metrics: { processCpuSeconds: 1 } },
  ])
  assert.equal(d?.serviceCpu, null)
})

test('without a pid, service CPU comes from process_cpu_seconds_total', () => {
  const [d] = deriveSamples([
    { tMs: t0, cpuSeconds: {}, metrics: { processCpuSeconds: 50 } },
    { tMs: t0 + 1000, cpuSeconds: {}, metrics: { processCpuSeconds: 50.9 } },
  ])
  assert.ok(Math.abs((d?.serviceCpu ?? 0) - 0.9) < 1e-9)
})

test('CPU per group sums the processes alive in both samples', () => {
  const a: RawSample = {
    tMs: t0,
    cpuSeconds: {},
    procs: [
      { pid: 1, group: 'postgres', cpuSeconds: 1 },
      { pid: 2, group: 'postgres', cpuSeconds: 2 },
      { pid: 3, group: 'kafka', cpuSeconds: 5 },
    ],
  }
  const b: RawSample = {
    tMs: t0 + 2000,
    cpuSeconds: {},
    procs: [
      { pid: 1, group: 'postgres', cpuSeconds: 1.4 },
      { pid: 2, group: 'postgres', cpuSeconds: 2.2 },
      { pid: 4, group: 'other', cpuSeconds: 100 }, // new process: no baseline, not counted
    ],
  }
  const groups = cpuByGroup(a, b, 2)
  assert.ok(Math.abs((groups.postgres ?? 0) - 0.3) < 1e-9)
  assert.equal(groups.other, undefined)
  assert.equal(groups.kafka, undefined)
  const samples = series(3, (i) => ({
    cpuByGroup: i === 1 ? { postgres: 0.6 } : ({} as Record<string, number>),
  }))
  const mean = meanCpuByGroup(samples, { startMs: at(0), endMs: at(2) })
  assert.deepEqual(Object.keys(mean), ['postgres'])
  assert.ok(Math.abs((mean.postgres ?? 0) - 0.2) < 1e-9)
})

test('the service CPU pinned at one core before anything else is the bottleneck', () => {
  const samples = series(25, (i) => ({
    serviceCpu: i >= 12 ? 0.97 : 0.5 + i * 0.02,
    redisCpu: 0.2,
    hostCpu: i >= 14 ? 0.97 : 0.7,
    poolWaiting: 0,
    system: { queued: 100 },
  }))
  const a = attributeSaturation(samples, window)
  assert.equal(a.saturated?.id, 'service-cpu')
  assert.equal(a.saturated?.crossedAtMs, at(12))
  assert.equal(a.signals.find((s) => s.id === 'host-cpu')?.crossedAtMs, at(14))
  assert.equal(a.signals.find((s) => s.id === 'redis-cpu')?.crossedAtMs, null)
})

test('a pool wait list that forms before the CPU climbs is named first', () => {
  const samples = series(25, (i) => ({
    serviceCpu: i >= 15 ? 0.95 : 0.6,
    poolWaiting: i >= 11 ? 3 : 0,
  }))
  assert.equal(attributeSaturation(samples, window).saturated?.id, 'postgres-pool')
})

test('a single sample over the threshold is noise, not saturation', () => {
  const samples = series(25, (i) => ({ serviceCpu: i === 12 ? 1.0 : 0.5, redisCpu: i >= 16 ? 0.95 : 0.1 }))
  const a = attributeSaturation(samples, window)
  assert.equal(a.saturated?.id, 'redis-cpu')
  assert.equal(a.saturated?.crossedAtMs, at(16))
  assert.equal(attributeSaturation(samples, window, { sustain: 1 }).saturated?.id, 'service-cpu')
})

test('a crossing that began before the window and is still on counts from its start', () => {
  const samples = series(25, (i) => ({ serviceCpu: i >= 5 ? 0.95 : 0.3, hostCpu: i >= 11 ? 0.99 : 0.5 }))
  const a = attributeSaturation(samples, window)
  assert.equal(a.saturated?.id, 'service-cpu')
  assert.equal(a.saturated?.crossedAtMs, at(5))
})

test('a crossing that ended before the window does not count', () => {
  const samples = series(25, (i) => ({
    serviceCpu: i >= 2 && i <= 5 ? 0.95 : 0.3,
    hostCpu: i >= 15 ? 0.99 : 0.5,
  }))
  const a = attributeSaturation(samples, window)
  assert.equal(a.saturated?.id, 'host-cpu')
  assert.equal(a.signals.find((s) => s.id === 'service-cpu')?.crossedAtMs, null)
})

test("a target's own signal names its queue; without the target the bench knows no such queue", () => {
  const growing = series(25, (i) => ({
    system: { queued: i < 10 ? 200 : 200 + (i - 10) * 1000 },
    serviceCpu: 0.6,
  }))
  const a = attributeSaturation(growing, window, ownSignals)
  assert.equal(a.saturated?.id, 'own-queue')
  assert.equal(a.saturated?.crossedAtMs, at(15))
  assert.equal(attributeSaturation(growing, window).saturated, null)
})

test("a target's own signal is judged after the Postgres pool and before the machine in a tie", () => {
  const tie = series(25, (i) => ({
    poolWaiting: i >= 12 ? 2 : 0,
    hostCpu: i >= 12 ? 0.99 : 0.5,
    system: { queued: i >= 12 ? 9000 : 100 },
  }))
  const ids = attributeSaturation(tie, window, ownSignals).signals.map((s) => s.id)
  assert.deepEqual(ids, [
    'service-cpu',
    'redis-cpu',
    'postgres-pool',
    'own-queue',
    'host-cpu',
    'load-generator',
  ])
  assert.equal(attributeSaturation(tie, window, ownSignals).saturated?.id, 'postgres-pool')
  const noPool = series(25, (i) => ({
    hostCpu: i >= 12 ? 0.99 : 0.5,
    system: { queued: i >= 12 ? 9000 : 100 },
  }))
  assert.equal(attributeSaturation(noPool, window, ownSignals).saturated?.id, 'own-queue')
})

test('dropped k6 iterations name the load generator, but after the service in the same second', () => {
  const samples = series(25, (i) => ({ serviceCpu: i >= 14 ? 0.95 : 0.5, k6DroppedPerSec: i >= 14 ? 30 : 0 }))
  assert.equal(attributeSaturation(samples, window).saturated?.id, 'service-cpu')
  const generatorOnly = series(25, (i) => ({ serviceCpu: 0.4, k6DroppedPerSec: i >= 12 ? 30 : 0 }))
  assert.equal(attributeSaturation(generatorOnly, window).saturated?.id, 'load-generator')
})

test('withDropped puts each second of dropped iterations on the sample that follows it', () => {
  const samples = series(3, () => ({}))
  const merged = withDropped(samples, new Map([[Math.floor(at(1) / 1000) - 1, 7]]))
  assert.deepEqual(
    merged.map((s) => s.k6DroppedPerSec),
    [0, 7, 0],
  )
})

test('when nothing crossed, the nearest signal is reported instead', () => {
  const samples = series(25, () => ({ serviceCpu: 0.6, hostCpu: 0.9, redisCpu: 0.1 }))
  const a = attributeSaturation(samples, window)
  assert.equal(a.saturated, null)
  assert.equal(a.nearest?.id, 'host-cpu')
  assert.ok(Math.abs((a.nearest?.peakRatio ?? 0) - 0.9 / 0.95) < 1e-9)
  assert.equal(a.signals.find((s) => s.id === 'postgres-pool')?.measured, false)
})

test('a group with no process alive between two samples was down or restarted', () => {
  const samples = series(8, (i) => ({
    cpuByGroup: (i === 3 || i === 4 ? { redis: 0.1, other: 0.1 } : { kafka: 0.2, redis: 0.1 }) as Record<
      string,
      number
    >,
  }))
  assert.deepEqual(infraInterruptions(samples), [{ group: 'kafka', fromMs: at(3), toMs: at(4) }])
  // Never seen at all (e.g. not installed) is not an interruption.
  assert.deepEqual(infraInterruptions(samples, ['toxiproxy']), [])
})
