/**
 * Invariants: what must hold, checked after each mode's run over the ledger of acknowledged
 * operations, the per-second series, the metrics, and the final state (Postgres, Redis).
 * An experiment reproduces its incident when its invariants fail naive and hold hardened.
 */
import type { LabContext } from './context.ts'
import type { Experiment } from './experiment.ts'
import type { Ledger, LedgerSelect } from './ledger.ts'
import { type MetricsView, type ReadinessSample, UnmeasuredError } from './metrics-scrape.ts'
import type { FaultWindow, TimelineEvent } from './timeline.ts'
import type { SecondStats } from './timeseries.ts'

/**
 * A time window in seconds since the load start.
 * - `all`: the whole run (including answers that arrived after the load stopped);
 * - `fault`: from the first fault to the last `until` (to the end of the load when no fault has one);
 * - `before-fault`: from 0 to the first fault; `after-fault`: from the last `until` on;
 * - or explicit `{ fromS, toS }`.
 */
export type WindowSel = 'all' | 'fault' | 'before-fault' | 'after-fault' | { fromS: number; toS: number }

export interface TimeWindow {
  fromS: number
  toS: number
}

/**
 * What an invariant sees: the mode's lab context (clients on the final state, direct, not through
 * Toxiproxy; the fleet; the switches) plus the run's measurements.
 */
export interface RunContext extends LabContext {
  experiment: Experiment
  durationS: number
  /** Every request and what came back. */
  ledger: Ledger
  /** Per-second throughput, errors and latency quantiles. */
  series: SecondStats[]
  faults: FaultWindow[]
  /** What the timeline did, with actual times and notes (`3 keys deleted`, `rolled back`). */
  events: TimelineEvent[]
  window(sel: WindowSel): TimeWindow
  /** How many times a fault's action ran successfully (by timeline index, or by action kind). */
  firings(fault: number | string): number
  metrics: MetricsView
  /** Ready-instance count every second (from each HTTP instance's readiness endpoint). */
  readiness: ReadinessSample[]
}

export interface InvariantCheck {
  holds: boolean
  /** What was measured, e.g. `812 ms` or `7 fills/expiry`. */
  observed: string | number
  /** Optional longer explanation for the report. */
  detail?: string
}

/** A metric an invariant reads, summed over instances; labels narrow it to some series. */
export interface MetricRef {
  name: string
  labels?: Record<string, string>
}

export interface Invariant {
  name: string
  /** The bound in words, e.g. `≤ 1 DB fill per key per expiry`. */
  expected: string
  /**
   * `reproduces` (default): should fail naive and hold hardened — the incident's signature.
   * `always`: should hold in both modes (a safety property, or a sanity check on the run itself).
   */
  expect?: 'reproduces' | 'always'
  /**
   * The metric the check reads. The report's chart then draws it per second (a counter's rate, a
   * gauge's value), naive and hardened on one scale, so the mechanism shows, not only the verdict.
   */
  metric?: MetricRef
  check(ctx: RunContext): InvariantCheck | Promise<InvariantCheck>
}

export interface InvariantResult {
  name: string
  expected: string
  expect: 'reproduces' | 'always'
  holds: boolean
  observed: string | number
  detail?: string
}

/** A custom invariant; `metric` names what it reads (a name, or a name and labels) for the chart. */
export function invariant(
  name: string,
  expected: string,
  check: Invariant['check'],
  options: { expect?: 'reproduces' | 'always'; metric?: string | MetricRef } = {},
): Invariant {
  const metric = typeof options.metric === 'string' ? { name: options.metric } : options.metric
  return { name, expected, check, expect: options.expect, ...(metric ? { metric } : {}) }
}

export async function evaluateInvariants(
  invariants: Invariant[],
  ctx: RunContext,
): Promise<InvariantResult[]> {
  const results: InvariantResult[] = []
  for (const inv of invariants) {
    const base = { name: inv.name, expected: inv.expected, expect: inv.expect ?? ('reproduces' as const) }
    try {
      const r = await inv.check(ctx)
      results.push({
        ...base,
        holds: r.holds,
        observed: r.observed,
        ...(r.detail ? { detail: r.detail } : {}),
      })
    } catch (err) {
      // An unmeasured metric fails the invariant whatever it expected: no number, no verdict.
      const observed =
        err instanceof UnmeasuredError
          ? `unmeasured: ${err.message}`
          : `check failed: ${err instanceof Error ? err.message : String(err)}`
      results.push({ ...base, holds: false, observed })
    }
  }
  return results
}

/** Resolve a window against the fault windows and the load duration. */
export function resolveWindow(sel: WindowSel, faults: FaultWindow[], durationS: number): TimeWindow {
  if (typeof sel === 'object') return sel
  if (sel === 'all') return { fromS: Number.NEGATIVE_INFINITY, toS: Number.POSITIVE_INFINITY }
  if (faults.length === 0) {
    return sel === 'before-fault'
      ? { fromS: 0, toS: durationS }
      : { fromS: Number.NEGATIVE_INFINITY, toS: Number.NEGATIVE_INFINITY }
  }
  const first = Math.min(...faults.map((f) => f.fromS))
  const lastEnd = Math.max(...faults.map((f) => f.toS))
  const end = lastEnd > first ? lastEnd : durationS
  if (sel === 'fault') return { fromS: first, toS: end }
  if (sel === 'before-fault') return { fromS: 0, toS: first }
  return { fromS: end, toS: Number.POSITIVE_INFINITY }
}

/** The window as a phrase: `in the fault window`, `before the fault`, `in 10–20 s` … */
export function windowPhrase(sel: WindowSel): string {
  if (typeof sel === 'object') return `in ${sel.fromS}–${sel.toS} s`
  return {
    all: 'over the whole run',
    fault: 'in the fault window',
    'before-fault': 'before the fault',
    'after-fault': 'after the fault',
  }[sel]
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a'
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`
  if (ms >= 100) return `${Math.round(ms)} ms`
  if (ms >= 10) return `${ms.toFixed(1)} ms`
  return `${ms.toFixed(2)} ms`
}

export function formatPercent(ratio: number): string {
  if (!Number.isFinite(ratio)) return 'n/a'
  const pct = ratio * 100
  if (pct === 0 || pct === 100) return `${pct}%`
  if (pct < 0.1 || pct > 99.9) return `${pct.toFixed(2)}%`
  return `${pct.toFixed(1)}%`
}

export interface SelectOptions {
  /** Window, default `fault`. */
  window?: WindowSel
  op?: string | string[]
  /** Extra filter on entries. */
  where?: LedgerSelect['where']
  expect?: 'reproduces' | 'always'
  /** Override the generated name. */
  name?: string
}

function selection(ctx: RunContext, options: SelectOptions): Ledger {
  const w = ctx.window(options.window ?? 'fault')
  return ctx.ledger.select({ op: options.op, fromS: w.fromS, toS: w.toS, where: options.where })
}

function scope(options: SelectOptions): string {
  const op =
    options.op === undefined ? '' : ` of ${Array.isArray(options.op) ? options.op.join('/') : options.op}`
  return `${op} ${windowPhrase(options.window ?? 'fault')}`
}

/** Latency quantile (default p99) of requests in a window stays at or under `ms`. */
export function latencyBelow(ms: number, options: SelectOptions & { quantile?: number } = {}): Invariant {
  const q = options.quantile ?? 0.99
  const label = q === 1 ? 'max' : `p${Math.round(q * 1000) / 10}`
  return {
    name: options.name ?? `${label} latency${scope(options)}`,
    expected: `≤ ${formatMs(ms)}`,
    expect: options.expect,
    check(ctx) {
      const sel = selection(ctx, options)
      if (sel.count === 0) return { holds: false, observed: 'no requests in the window' }
      const value = sel.quantileMs(q)
      return { holds: value <= ms, observed: formatMs(value), detail: `${sel.count} requests` }
    },
  }
}

/** p99 latency of requests in a window (default: the fault window) stays at or under `ms`. */
export function p99Below(ms: number, options: SelectOptions = {}): Invariant {
  return latencyBelow(ms, { ...options, quantile: 0.99 })
}

/** Share of failed requests (no answer, or an unexpected status) in a window stays at or under `ratio`. */
export function errorRateBelow(ratio: number, options: SelectOptions = {}): Invariant {
  return {
    name: options.name ?? `error rate${scope(options)}`,
    expected: `≤ ${formatPercent(ratio)}`,
    expect: options.expect,
    check(ctx) {
      const sel = selection(ctx, options)
      if (sel.count === 0) return { holds: false, observed: 'no requests in the window' }
      const rate = sel.errorRate()
      return {
        holds: rate <= ratio,
        observed: formatPercent(rate),
        detail: `${sel.count - sel.okCount} of ${sel.count} failed`,
      }
    },
  }
}

/** Share of successful requests in a window is at least `ratio` (e.g. redirects ≥ 99%). */
export function successAtLeast(ratio: number, options: SelectOptions = {}): Invariant {
  return {
    name: options.name ?? `successful requests${scope(options)}`,
    expected: `≥ ${formatPercent(ratio)}`,
    expect: options.expect,
    check(ctx) {
      const sel = selection(ctx, options)
      if (sel.count === 0) return { holds: false, observed: 'no requests in the window' }
      const ok = sel.successRatio()
      return {
        holds: ok >= ratio,
        observed: formatPercent(ok),
        detail: `${sel.okCount} of ${sel.count} succeeded`,
      }
    },
  }
}

/**
 * Goodput (successful requests per second) gets back to `ratio` × its pre-fault baseline within
 * `withinS` seconds of the first fault, and stays there for `stableS` seconds (pm02).
 */
export function goodputRecovers(options: {
  ratio?: number
  withinS: number
  stableS?: number
  op?: string | string[]
  expect?: 'reproduces' | 'always'
  name?: string
}): Invariant {
  const ratio = options.ratio ?? 0.95
  const stableS = options.stableS ?? 3
  return {
    name: options.name ?? `goodput back to ${formatPercent(ratio)} of baseline after the fault`,
    expected: `within ${options.withinS} s`,
    expect: options.expect,
    check(ctx) {
      const start = ctx.window('fault').fromS
      const okPerSecond = (t: number) =>
        ctx.ledger.select({ op: options.op, fromS: t, toS: t + 1, where: (e) => e.ok }).count
      // Baseline: the seconds before the fault, skipping the first (k6 ramps up during it).
      const baseSeconds: number[] = []
      for (let t = 1; t < Math.floor(start); t++) baseSeconds.push(okPerSecond(t))
      if (baseSeconds.length === 0)
        return { holds: false, observed: 'no baseline: the fault starts in the first 2 s' }
      const baseline = baseSeconds.reduce((a, b) => a + b, 0) / baseSeconds.length
      const target = ratio * baseline
      const last = Math.floor(ctx.durationS) - 1
      for (let t = Math.floor(start); t + stableS - 1 <= last; t++) {
        let stable = true
        for (let k = 0; k < stableS; k++) if (okPerSecond(t + k) < target) stable = false
        if (stable) {
          const after = t - start
          return {
            holds: after <= options.withinS,
            observed: `${Math.max(0, after).toFixed(0)} s`,
            detail: `baseline ${baseline.toFixed(0)} ok/s`,
          }
        }
      }
      const worst = Math.min(
        ...Array.from({ length: last - Math.floor(start) + 1 }, (_, i) => okPerSecond(Math.floor(start) + i)),
      )
      return {
        holds: false,
        observed: `not within the run (low ${formatPercent(worst / baseline)} of baseline)`,
        detail: `baseline ${baseline.toFixed(0)} ok/s`,
      }
    },
  }
}

/** The number of ready instances (sampled every second during the load) never drops below `min` (pm03). */
export function readyInstancesAtLeast(
  min = 1,
  options: { service?: string; expect?: 'reproduces' | 'always'; name?: string } = {},
): Invariant {
  return {
    name: options.name ?? `ready ${options.service ?? 'HTTP'} instances during the load`,
    expected: `never < ${min}`,
    expect: options.expect,
    check(ctx) {
      const prefix = options.service ? `${options.service}-` : ''
      const during = ctx.readiness.filter((r) => r.tS >= 0 && r.tS <= ctx.durationS)
      if (during.length === 0) return { holds: false, observed: 'no readiness samples' }
      let lowest = Number.POSITIVE_INFINITY
      let at = 0
      for (const r of during) {
        const ready = Object.entries(r.instances).filter(([name, ok]) => name.startsWith(prefix) && ok).length
        if (ready < lowest) {
          lowest = ready
          at = r.tS
        }
      }
      return { holds: lowest >= min, observed: `min ${lowest} (at ${at.toFixed(0)} s)` }
    },
  }
}

/**
 * A metric, summed over instances, stays at or under `max`: its growth during the run (`delta`,
 * for counters), its final value (`after`) or its highest sampled value (`max`, for gauges).
 * The invariant names the metric, so the chart draws it; a metric no instance exposes fails it.
 */
export function metricAtMost(
  metric: string,
  max: number,
  options: {
    labels?: Record<string, string>
    of?: 'delta' | 'after' | 'max'
    expect?: 'reproduces' | 'always'
    name?: string
  } = {},
): Invariant {
  const of = options.of ?? 'delta'
  return {
    name: options.name ?? `${metric}${options.labels ? JSON.stringify(options.labels) : ''} (${of})`,
    expected: `≤ ${max}`,
    expect: options.expect,
    metric: { name: metric, ...(options.labels ? { labels: options.labels } : {}) },
    check(ctx) {
      const value =
        of === 'delta'
          ? ctx.metrics.delta(metric, options.labels)
          : of === 'after'
            ? ctx.metrics.sum(metric, options.labels)
            : ctx.metrics.maxOver(metric, options.labels)
      return { holds: value <= max, observed: value }
    },
  }
}
