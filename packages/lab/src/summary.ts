/** `summary.json`: everything a run measured, machine-readable. The report and chart are rendered from it. */
import type { CatalogRow, LoadSpec, Mode } from './experiment.ts'
import type { InfraMode } from './infra.ts'
import type { InvariantResult } from './invariants.ts'
import type { Ledger } from './ledger.ts'
import type { MetricSeries } from './metric-series.ts'
import type { ReadinessSample } from './metrics-scrape.ts'
import type { Verdict } from './report/verdict.ts'
import type { FaultWindow, TimelineEvent } from './timeline.ts'
import type { SecondStats } from './timeseries.ts'

export const summarySchema = 'faultline.lab.summary/1'

export interface Stats {
  requests: number
  ok: number
  errors: number
  errorRate: number
  /** Requests per second over the window. */
  rps: number
  p50Ms: number | null
  p99Ms: number | null
  maxMs: number | null
}

export function statsOf(ledger: Ledger, seconds: number): Stats {
  const n = ledger.count
  const finite = (v: number) => (Number.isFinite(v) ? v : null)
  return {
    requests: n,
    ok: ledger.okCount,
    errors: n - ledger.okCount,
    errorRate: ledger.errorRate(),
    rps: seconds > 0 ? n / seconds : 0,
    p50Ms: finite(ledger.quantileMs(0.5)),
    p99Ms: finite(ledger.quantileMs(0.99)),
    maxMs: finite(ledger.maxLatencyMs()),
  }
}

export interface Machine {
  cpuModel: string
  cores: number
  memoryGiB: number
  os: string
  node: string
  k6: string
  hostname: string
}

export interface ModeSummary {
  mode: Mode
  mitigations: Record<string, boolean>
  /** What each HTTP instance answered to GET on its mitigations path after the PUT. */
  appliedMitigations: Record<string, unknown>
  startedAt: string
  /** Epoch ms of the load start (t = 0 of the series and the timeline). */
  loadStartEpochMs: number
  durationS: number
  k6: { command: string; exitCode: number; requests: number }
  totals: Stats
  /** Stats over the fault window; null without faults. */
  inFault: Stats | null
  /**
   * That window, in seconds since the load started: the first inject to the last heal, or to the
   * end of the load when every fault is instant (a flush, a kill): what follows is the recovery.
   */
  faultWindow: { fromS: number; toS: number } | null
  byOp: Record<string, Stats>
  series: SecondStats[]
  events: TimelineEvent[]
  invariants: InvariantResult[]
  readiness: ReadinessSample[]
  /**
   * Per second, each metric an invariant names (`metric` option, `metricAtMost`), from the
   * sampler's scrapes: what the chart draws under the request rows. Absent in older summaries.
   */
  metricSeries?: MetricSeries[]
  /** `seriesKey → value` per instance, before and after the load. */
  metrics: { before: Record<string, Record<string, number>>; after: Record<string, Record<string, number>> }
  services: { name: string; pid: number | undefined; port?: number; logFile: string }[]
  /** With `load.balancer`: requests it answered 503 itself because no instance was ready. */
  balancer?: { rejected: number }
  /** Relative to the results dir. */
  files: { ledger?: string; k6Log?: string; logs: string[] }
  /** Anything that went wrong around the experiment (a heal that failed, a setup error …). */
  errors: string[]
}

export interface TimelineEntry {
  at: number
  until?: number
  every?: number
  hold?: number
  label: string
  kind: string
}

export interface Summary {
  schema: typeof summarySchema
  experiment: {
    name: string
    id: string
    slug: string
    system: string
    title: string
    description?: string
    variant: 'full' | 'ci'
    catalog: CatalogRow | null
    services: Record<string, { entry: string; instances: number }>
    load: LoadSpec
    mitigations: Record<string, boolean>
    timeline: TimelineEntry[]
    faults: FaultWindow[]
    invariants: { name: string; expected: string; expect: 'reproduces' | 'always' }[]
  }
  /** The command that regenerates this run. */
  command: string
  startedAt: string
  finishedAt: string
  machine: Machine
  infra: InfraMode
  modes: Partial<Record<Mode, ModeSummary>>
  verdict: Verdict
  /** Where report.md, chart.svg and this file were written (absent when not written). */
  outDir?: string
  /** Set when the run was interrupted (Ctrl-C) or failed before both modes finished. */
  aborted?: string
}
