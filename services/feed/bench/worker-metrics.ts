/**
 * What the fan-out benchmark reads from the worker's /metrics: deliveries (every timeline insert,
 * whatever its result), post_created events applied, and the post → delivered histogram of
 * regular authors — and the quantile of a histogram's growth between two scrapes, interpolated
 * within the bucket the rank falls in (Prometheus' histogram_quantile).
 */
import { type MetricSample, parsePrometheusText, sumSeries } from '@faultline/measure'

export interface WorkerCounters {
  tMs: number
  /** feed_fanout_deliveries_total, all results (added, already, inactive). */
  deliveries: number
  /** feed_fanout_events_total{type="created"}, all classes. */
  created: number
  /** Cumulative bucket counts of feed_post_delivered_seconds{class="regular"}, by upper bound. */
  deliveredBuckets: Map<number, number>
}

export function workerCounters(samples: readonly MetricSample[], tMs = Date.now()): WorkerCounters {
  const buckets = new Map<number, number>()
  for (const s of samples) {
    if (s.name !== 'feed_post_delivered_seconds_bucket' || s.labels.class !== 'regular') continue
    const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le)
    buckets.set(le, (buckets.get(le) ?? 0) + s.value)
  }
  return {
    tMs,
    deliveries: sumSeries(samples.filter((s) => s.name === 'feed_fanout_deliveries_total')) ?? 0,
    created:
      sumSeries(
        samples.filter((s) => s.name === 'feed_fanout_events_total' && s.labels.type === 'created'),
      ) ?? 0,
    deliveredBuckets: buckets,
  }
}

export async function scrapeWorker(metricsUrl: string): Promise<WorkerCounters> {
  const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) })
  if (!res.ok) throw new Error(`${metricsUrl} → ${res.status}`)
  return workerCounters(parsePrometheusText(await res.text()))
}

/**
 * The q-quantile (0..1) of the observations made between two cumulative bucket snapshots, in the
 * histogram's unit: linear within the bucket holding the rank (its lower bound the previous upper
 * bound, 0 for the first). Null with no observation; the last finite bound when the rank falls in
 * +Inf (a floor: the histogram cannot say more).
 */
export function histogramQuantile(
  before: ReadonlyMap<number, number>,
  after: ReadonlyMap<number, number>,
  q: number,
): number | null {
  const bounds = [...after.keys()].sort((a, b) => a - b)
  const grown = bounds.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0))
  const total = grown.at(-1) ?? 0
  if (total <= 0) return null
  const rank = q * total
  let lower = 0
  let below = 0
  for (let i = 0; i < bounds.length; i++) {
    const upper = bounds[i] as number
    const count = grown[i] as number
    if (count >= rank && count > below) {
      if (!Number.isFinite(upper)) return lower
      return lower + ((upper - lower) * (rank - below)) / (count - below)
    }
    if (Number.isFinite(upper)) lower = upper
    below = count
  }
  return lower
}

/** Observations between two snapshots (the +Inf bucket's growth). */
export function histogramCount(
  before: ReadonlyMap<number, number>,
  after: ReadonlyMap<number, number>,
): number {
  const inf = Number.POSITIVE_INFINITY
  return (after.get(inf) ?? 0) - (before.get(inf) ?? 0)
}
