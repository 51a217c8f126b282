/**
 * What the threshold benchmark reads from a feed process's /metrics between two scrapes: its CPU
 * (prom-client's process_cpu_seconds_total, user + system), a counter's growth, and the growth of
 * a histogram's buckets over every label set (post → delivered of all author classes, not only the
 * regular ones worker-metrics.ts follows) for histogramQuantile.
 */
import { type MetricSample, parsePrometheusText, sumSeries } from '@faultline/measure'

export interface Scrape {
  tMs: number
  samples: MetricSample[]
}

export async function scrape(metricsUrl: string): Promise<Scrape> {
  const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) })
  if (!res.ok) throw new Error(`${metricsUrl} → ${res.status}`)
  return { tMs: Date.now(), samples: parsePrometheusText(await res.text()) }
}

/** The sum of every series of a counter (or gauge) named `name`. */
export function total(s: Scrape, name: string): number {
  return sumSeries(s.samples.filter((x) => x.name === name)) ?? 0
}

export function growth(before: Scrape, after: Scrape, name: string): number {
  return total(after, name) - total(before, name)
}

export function cpuSeconds(s: Scrape): number {
  return total(s, 'process_cpu_seconds_total')
}

/** Cumulative bucket counts of histogram `name` (all label sets summed), by upper bound. */
export function buckets(s: Scrape, name: string): Map<number, number> {
  const out = new Map<number, number>()
  for (const x of s.samples) {
    if (x.name !== `${name}_bucket`) continue
    const le = x.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(x.labels.le)
    out.set(le, (out.get(le) ?? 0) + x.value)
  }
  return out
}
