/**
 * Prometheus metrics from every service instance: one scrape before the load, one after,
 * and a sampler every second (readiness and every metric) for gauges such as the ready-instance
 * count. The text is parsed by @faultline/measure's parser, the one the bench's sampler uses too.
 */
import { type MetricSample, parsePrometheusText } from '@faultline/measure'

export { type MetricSample, parsePrometheusText }

/** One instance at one moment. */
export interface Scrape {
  instance: string
  /** The service the instance runs (`api`, `worker` …): which metrics it should expose. */
  service: string
  /** Seconds since the load start (negative before it; NaN in a `ctx.scrape()` snapshot). */
  tS: number
  /** `/metrics` answered 200 and parsed. */
  ok: boolean
  samples: MetricSample[]
  /** `/readyz` → true on 200, false on anything else or no answer; null when not sampled. */
  ready: boolean | null
  error?: string
}

function matches(sample: MetricSample, name: string, labels?: Record<string, string>): boolean {
  if (sample.name !== name) return false
  if (!labels) return true
  for (const [k, v] of Object.entries(labels)) if (sample.labels[k] !== v) return false
  return true
}

/** Sum of every sample with this name whose labels include `labels`. */
export function sumSamples(
  samples: readonly MetricSample[],
  name: string,
  labels?: Record<string, string>,
): number {
  let total = 0
  for (const s of samples) if (matches(s, name, labels)) total += s.value
  return total
}

/** `name{a="1",b="2"}` — a stable key for a series. */
export function seriesKey(sample: MetricSample): string {
  const entries = Object.entries(sample.labels).sort(([a], [b]) => a.localeCompare(b))
  if (entries.length === 0) return sample.name
  return `${sample.name}{${entries.map(([k, v]) => `${k}="${v}"`).join(',')}}`
}

/** Fetch with a deadline; never throws. */
export async function httpGet(
  url: string,
  timeoutMs: number,
): Promise<{ status: number; body: string } | { error: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    return { status: res.status, body: await res.text() }
  } catch (err) {
    return {
      error:
        err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err),
    }
  }
}

export interface ScrapeTarget {
  instance: string
  service: string
  baseUrl: string
  metricsPath: string | null
  readyPath: string | null
}

/** Scrape one instance: metrics and readiness in parallel, each bounded by `timeoutMs`. */
export async function scrapeInstance(target: ScrapeTarget, tS: number, timeoutMs = 800): Promise<Scrape> {
  const [metrics, ready] = await Promise.all([
    target.metricsPath ? httpGet(target.baseUrl + target.metricsPath, timeoutMs) : undefined,
    target.readyPath ? httpGet(target.baseUrl + target.readyPath, timeoutMs) : undefined,
  ])
  const scrape: Scrape = {
    instance: target.instance,
    service: target.service,
    tS,
    ok: false,
    samples: [],
    ready: null,
  }
  if (ready) scrape.ready = 'status' in ready && ready.status === 200
  if (metrics && 'status' in metrics && metrics.status === 200) {
    scrape.ok = true
    scrape.samples = parsePrometheusText(metrics.body)
  } else if (metrics) {
    scrape.error = 'error' in metrics ? metrics.error : `HTTP ${metrics.status}`
  }
  return scrape
}

/** Ready-instance count at one sampler tick. */
export interface ReadinessSample {
  tS: number
  ready: number
  total: number
  /** Instance → ready? (false also when it did not answer). */
  instances: Record<string, boolean>
}

/**
 * A metric an invariant could not read: no instance exposed it, or the scrape of an instance that
 * should have exposed it failed. `evaluateInvariants` turns it into a failed invariant that says
 * why, so a check never passes on a number nobody measured (a missing counter read as 0, a failed
 * final scrape as a drop).
 */
export class UnmeasuredError extends Error {
  override name = 'UnmeasuredError'
}

/** Whether any sample with this name has (at least) these labels. */
export function exposes(
  samples: readonly MetricSample[],
  name: string,
  labels?: Record<string, string>,
): boolean {
  return samples.some((s) => matches(s, name, labels))
}

function metricText(name: string, labels?: Record<string, string>): string {
  return labels && Object.keys(labels).length > 0 ? seriesKey({ name, labels, value: 0 }) : name
}

/**
 * The services whose instances expose the metric in at least one of `scrapes`. Only their
 * instances' failed or missing scrapes make a reading unknown: a worker's failed scrape says
 * nothing about an API counter.
 */
function servicesExposing(
  scrapes: readonly Scrape[],
  name: string,
  labels?: Record<string, string>,
): Set<string> {
  return new Set(scrapes.filter((s) => s.ok && exposes(s.samples, name, labels)).map((s) => s.service))
}

/** Which scrape a reading rests on, for the messages: `before` / `before the load` … */
interface Moment {
  scrape: string
  when: string
}

/**
 * Sum over the instances of `scrapes`. Unmeasured when there is no scrape, when the scrape of an
 * instance of a service that exposes the metric (anywhere in `seen`) failed, or when no instance
 * exposes it.
 */
function sumOver(
  scrapes: readonly Scrape[],
  seen: readonly Scrape[],
  name: string,
  labels: Record<string, string> | undefined,
  moment: Moment,
): number {
  if (scrapes.length === 0)
    throw new UnmeasuredError(`no ${moment.scrape} scrape: no instance serves metrics`)
  const relevant = servicesExposing(seen, name, labels)
  for (const s of scrapes) {
    if (!s.ok && relevant.has(s.service))
      throw new UnmeasuredError(
        `the ${moment.scrape} scrape of ${s.instance} failed (${s.error ?? 'no answer'})`,
      )
  }
  if (!scrapes.some((s) => s.ok && exposes(s.samples, name, labels)))
    throw new UnmeasuredError(`no instance exposes ${metricText(name, labels)} (${moment.when})`)
  return scrapes.reduce((acc, s) => acc + sumSamples(s.samples, name, labels), 0)
}

/**
 * Every instance's metrics at one moment, taken when asked (`ctx.scrape()`): a setup or a
 * `settleUntil` that waits on a counter reads it here, with the same rules as an invariant.
 */
export class MetricsSnapshot {
  readonly scrapes: Scrape[]

  constructor(scrapes: Scrape[]) {
    this.scrapes = scrapes
  }

  /** Sum over instances; unmeasured like `MetricsView.sum`. */
  sum(name: string, labels?: Record<string, string>): number {
    return sumOver(this.scrapes, this.scrapes, name, labels, { scrape: 'current', when: 'now' })
  }
}

/**
 * The metrics of one mode's run, as invariants see them. Sums are over every instance. A reading
 * that would rest on a missing number throws `UnmeasuredError` instead of counting it as 0.
 */
export class MetricsView {
  readonly before: Scrape[]
  readonly after: Scrape[]
  readonly samples: Scrape[]

  constructor(before: Scrape[], after: Scrape[], samples: Scrape[]) {
    this.before = before
    this.after = after
    this.samples = samples
  }

  /** Every scrape of the run: where a service shows that it exposes a metric. */
  private all(): Scrape[] {
    return [...this.before, ...this.after, ...this.samples]
  }

  /**
   * Sum over instances of a metric in the before or after scrape. Unmeasured when there was no
   * such scrape, when no instance exposes the metric, or when the scrape of an instance failed
   * whose service exposes the metric (in any scrape of the run).
   */
  sum(name: string, labels?: Record<string, string>, at: 'before' | 'after' = 'after'): number {
    const scrapes = at === 'before' ? this.before : this.after
    return sumOver(scrapes, this.all(), name, labels, { scrape: at, when: `${at} the load` })
  }

  /**
   * after − before, summed over instances: how much a counter grew during the run. Unmeasured
   * when an instance of a service that exposes the metric lacks either scrape, or when a counter
   * (`*_total`) of an instance went down: the process restarted mid-run and lost its count, so
   * prefer the sampler (`maxOver`) when an experiment kills instances.
   */
  delta(name: string, labels?: Record<string, string>): number {
    const after = this.sum(name, labels, 'after')
    const before = this.sum(name, labels, 'before')
    const relevant = servicesExposing(this.all(), name, labels)
    for (const instance of new Set([...this.before, ...this.after].map((s) => s.instance))) {
      const b = this.before.find((s) => s.instance === instance)
      const a = this.after.find((s) => s.instance === instance)
      const service = (b ?? a)?.service ?? ''
      if (!b || !a) {
        // An instance of a service that never exposes the metric (a worker, for an API counter).
        if (!relevant.has(service)) continue
        throw new UnmeasuredError(
          `${instance} has no ${b ? 'after' : 'before'} scrape, so its growth is unknown`,
        )
      }
      const grew = sumSamples(a.samples, name, labels) - sumSamples(b.samples, name, labels)
      if (name.endsWith('_total') && grew < 0)
        throw new UnmeasuredError(
          `${metricText(name, labels)} went down on ${instance}: it restarted mid-run`,
        )
    }
    return after - before
  }

  /** Per sampler tick: the metric summed over the instances that answered. */
  series(name: string, labels?: Record<string, string>): { tS: number; value: number; instances: number }[] {
    const byTick = new Map<number, { value: number; instances: number }>()
    for (const s of this.samples) {
      if (!s.ok) continue
      const tick = Math.round(s.tS * 10) / 10
      const cur = byTick.get(tick) ?? { value: 0, instances: 0 }
      cur.value += sumSamples(s.samples, name, labels)
      cur.instances++
      byTick.set(tick, cur)
    }
    return [...byTick.entries()].sort(([a], [b]) => a - b).map(([tS, v]) => ({ tS, ...v }))
  }

  /** Highest value a metric (summed over instances) reached in the sampler; unmeasured if never seen. */
  maxOver(name: string, labels?: Record<string, string>): number {
    if (!this.samples.some((s) => s.ok && exposes(s.samples, name, labels)))
      throw new UnmeasuredError(`no sampled scrape exposes ${metricText(name, labels)}`)
    return Math.max(...this.series(name, labels).map((p) => p.value))
  }

  /** Metric values by instance, `seriesKey → value`, for summary.json. */
  static table(scrapes: readonly Scrape[]): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {}
    for (const s of scrapes) {
      const row: Record<string, number> = {}
      for (const sample of s.samples) row[seriesKey(sample)] = sample.value
      out[s.instance] = row
    }
    return out
  }
}

/** Group sampler scrapes taken at the same tick into ready counts. */
export function readinessSeries(samples: readonly Scrape[]): ReadinessSample[] {
  const byTick = new Map<number, ReadinessSample>()
  for (const s of samples) {
    if (s.ready === null) continue
    const tick = Math.round(s.tS * 10) / 10
    const cur = byTick.get(tick) ?? { tS: tick, ready: 0, total: 0, instances: {} }
    cur.total++
    if (s.ready) cur.ready++
    cur.instances[s.instance] = s.ready
    byTick.set(tick, cur)
  }
  return [...byTick.values()].sort((a, b) => a.tS - b.tS)
}
