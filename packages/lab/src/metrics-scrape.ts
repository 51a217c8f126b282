/**
 * Prometheus metrics from every HTTP service instance: one scrape before the load, one after,
 * and a sampler every second (readiness and every metric) for gauges such as the ready-instance
 * count. Parsing covers the text exposition format services emit (prom-client and hand-written).
 */

export interface MetricSample {
  name: string
  labels: Record<string, string>
  value: number
}

/** One instance at one moment. */
export interface Scrape {
  instance: string
  /** Seconds since the load start (negative before it). */
  tS: number
  /** `/metrics` answered 200 and parsed. */
  ok: boolean
  samples: MetricSample[]
  /** `/readyz` → true on 200, false on anything else or no answer; null when not sampled. */
  ready: boolean | null
  error?: string
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?\s*$/

function parseValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY
  if (text === '-Inf') return Number.NEGATIVE_INFINITY
  return Number(text)
}

function parseLabels(body: string): Record<string, string> | null {
  const labels: Record<string, string> = {}
  let i = 0
  while (i < body.length) {
    while (body[i] === ' ' || body[i] === ',') i++
    if (i >= body.length) break
    const eq = body.indexOf('=', i)
    if (eq === -1 || body[eq + 1] !== '"') return null
    const key = body.slice(i, eq).trim()
    let value = ''
    let j = eq + 2
    for (; j < body.length && body[j] !== '"'; j++) {
      if (body[j] === '\\' && j + 1 < body.length) {
        const next = body[++j]
        value += next === 'n' ? '\n' : (next as string)
      } else value += body[j]
    }
    if (j >= body.length) return null
    labels[key] = value
    i = j + 1
  }
  return labels
}

/** Text exposition format → samples; comments and malformed lines are skipped. */
export function parsePrometheusText(text: string): MetricSample[] {
  const out: MetricSample[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const m = sampleLine.exec(line)
    if (!m) continue
    const labels = m[3] ? parseLabels(m[3]) : {}
    const value = parseValue(m[4] as string)
    if (!labels || Number.isNaN(value)) continue
    out.push({ name: m[1] as string, labels, value })
  }
  return out
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
  const scrape: Scrape = { instance: target.instance, tS, ok: false, samples: [], ready: null }
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
 * The metrics of one mode's run, as invariants see them. Sums are over every instance;
 * instances that did not answer a scrape count as absent.
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

  /** Sum over instances of a metric in the before or after scrape. */
  sum(name: string, labels?: Record<string, string>, at: 'before' | 'after' = 'after'): number {
    const scrapes = at === 'before' ? this.before : this.after
    return scrapes.reduce((acc, s) => acc + sumSamples(s.samples, name, labels), 0)
  }

  /**
   * after − before, summed over instances: how much a counter grew during the run. A process
   * restarted mid-run resets its counters, so prefer the sampler (`maxOver`) when an experiment
   * kills instances.
   */
  delta(name: string, labels?: Record<string, string>): number {
    return this.sum(name, labels, 'after') - this.sum(name, labels, 'before')
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

  /** Highest value a metric (summed over instances) reached in the sampler, or NaN if never seen. */
  maxOver(name: string, labels?: Record<string, string>): number {
    const values = this.series(name, labels).map((p) => p.value)
    return values.length === 0 ? Number.NaN : Math.max(...values)
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
