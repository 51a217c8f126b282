/**
 * Per-second series of the metrics invariants name (`invariant(…, { metric })`, `metricAtMost`),
 * made from the sampler's once-a-second scrapes and stored in summary.json, so the chart can
 * draw the mechanism (pm10: Postgres fills per second) from data rather than from the verdict.
 */
import type { Invariant, MetricRef } from './invariants.ts'
import { exposes, type Scrape, seriesKey, sumSamples } from './metrics-scrape.ts'

export interface MetricSeries {
  metric: string
  labels?: Record<string, string>
  /**
   * `rate`: a counter's growth per second (names ending in `_total`, the Prometheus convention
   * for counters); `value`: a gauge's value. Both summed over instances.
   */
  kind: 'rate' | 'value'
  /** The invariants that read this metric. */
  invariants: string[]
  /**
   * One point per second since the load start, like the request series: `value` covers [t, t+1)
   * (a rate) or is the reading at t (a gauge); null when no instance exposed the metric then.
   */
  points: { t: number; value: number | null }[]
}

export function metricKind(name: string): MetricSeries['kind'] {
  return name.endsWith('_total') ? 'rate' : 'value'
}

/** The same key for the same metric and labels, whatever order the labels were written in. */
function refKey(ref: MetricRef): string {
  return seriesKey({ name: ref.name, labels: ref.labels ?? {}, value: 0 })
}

/** Each instance's readings of the metric, in time order (failed scrapes and absent metrics left out). */
function readingsByInstance(ref: MetricRef, samples: readonly Scrape[]): Map<string, [number, number][]> {
  const out = new Map<string, [number, number][]>()
  for (const s of samples) {
    if (!s.ok || !exposes(s.samples, ref.name, ref.labels)) continue
    const list = out.get(s.instance) ?? []
    list.push([s.tS, sumSamples(s.samples, ref.name, ref.labels)])
    out.set(s.instance, list)
  }
  for (const list of out.values()) list.sort((a, b) => a[0] - b[0])
  return out
}

/**
 * A counter's growth per second, summed over instances. Between two readings of an instance the
 * growth is spread evenly over the seconds they span (a missed scrape leaves no hole); a counter
 * that went down restarted with its process, so its growth is the new value, as Prometheus's
 * `rate()` counts it.
 */
function rates(byInstance: Map<string, [number, number][]>): Map<number, number> {
  const out = new Map<number, number>()
  for (const readings of byInstance.values()) {
    for (let i = 1; i < readings.length; i++) {
      const [t0, v0] = readings[i - 1] as [number, number]
      const [t1, v1] = readings[i] as [number, number]
      const from = Math.round(t0)
      const span = Math.round(t1) - from
      if (span <= 0) continue
      const perSecond = (v1 >= v0 ? v1 - v0 : v1) / span
      for (let t = from; t < from + span; t++) out.set(t, (out.get(t) ?? 0) + perSecond)
    }
  }
  return out
}

/** A gauge's value at each tick, summed over the instances that exposed it. */
function values(byInstance: Map<string, [number, number][]>): Map<number, number> {
  const out = new Map<number, number>()
  for (const readings of byInstance.values()) {
    for (const [tS, v] of readings) out.set(Math.round(tS), (out.get(Math.round(tS)) ?? 0) + v)
  }
  return out
}

/** One metric's per-second series over the sampler's scrapes (ticks at t = 0, 1, 2 … s). */
export function metricSeries(
  ref: MetricRef,
  samples: readonly Scrape[],
  invariants: string[] = [],
): MetricSeries {
  const kind = metricKind(ref.name)
  const byInstance = readingsByInstance(ref, samples)
  const bySecond = kind === 'rate' ? rates(byInstance) : values(byInstance)
  const ticks = samples.filter((s) => s.tS >= 0).map((s) => Math.round(s.tS))
  const last = Math.max(-1, ...ticks) - (kind === 'rate' ? 1 : 0)
  const points = Array.from({ length: last + 1 }, (_, t) => ({ t, value: bySecond.get(t) ?? null }))
  return { metric: ref.name, ...(ref.labels ? { labels: ref.labels } : {}), kind, invariants, points }
}

/** The series of every metric the invariants name, each once, in the order they are first named. */
export function namedMetricSeries(
  invariants: readonly Invariant[],
  samples: readonly Scrape[],
): MetricSeries[] {
  const named = new Map<string, { ref: MetricRef; invariants: string[] }>()
  for (const inv of invariants) {
    if (!inv.metric) continue
    const key = refKey(inv.metric)
    const entry = named.get(key) ?? { ref: inv.metric, invariants: [] }
    entry.invariants.push(inv.name)
    named.set(key, entry)
  }
  return [...named.values()].map(({ ref, invariants: names }) => metricSeries(ref, samples, names))
}
