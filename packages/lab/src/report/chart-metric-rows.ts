/**
 * The chart's metric rows: one per metric an invariant names, drawn per second from summary.json's
 * `metricSeries`, on one scale for every panel so naive and hardened compare at a glance.
 */
import type { MetricSeries } from '../metric-series.ts'
import type { ChartPanel } from './chart-svg.ts'
import {
  areaPath,
  colors,
  type Frame,
  fit,
  formatCount,
  linePath,
  niceCeil,
  type Point,
  rowTitle,
  yGrid,
} from './svg.ts'

/** `name{label="v"}` — how a metric row is keyed and titled. */
function metricLabel(m: Pick<MetricSeries, 'metric' | 'labels'>): string {
  const labels = Object.entries(m.labels ?? {}).sort(([a], [b]) => a.localeCompare(b))
  return labels.length === 0 ? m.metric : `${m.metric}{${labels.map(([k, v]) => `${k}="${v}"`).join(',')}}`
}

export interface MetricRow {
  /** `name{label="v"}`: the row's key and title. */
  label: string
  /** The series that introduced the row (its kind and the invariants that read it). */
  first: MetricSeries
  /** The top of the shared scale. */
  max: number
}

/** One row per metric named in any panel, in first-seen order, with its scale shared by the panels. */
export function metricRows(panels: ChartPanel[]): MetricRow[] {
  const rows = new Map<string, MetricRow>()
  for (const m of panels.flatMap((p) => p.metrics ?? [])) {
    const label = metricLabel(m)
    const row = rows.get(label) ?? { label, first: m, max: 0 }
    for (const p of m.points) if (p.value !== null) row.max = Math.max(row.max, p.value)
    rows.set(label, row)
  }
  return [...rows.values()].map((r) => ({ ...r, max: niceCeil(Math.max(1, r.max)) }))
}

/** The row's title (the metric, its unit, the invariants that read it) and its grid. */
export function metricRowAxes(frame: Frame, row: MetricRow): string[] {
  const unit = row.first.kind === 'rate' ? 'per second' : 'value'
  const readers = `${unit} · for ${row.first.invariants.map((name) => `“${name}”`).join(', ')}`
  return [
    rowTitle(frame, row.label, fit(readers, frame.w - row.label.length * 7.4 - 14)),
    ...yGrid(
      frame,
      [0, row.max / 2, row.max].map((v) => ({ v: v / row.max, label: formatCount(v) })),
    ),
  ]
}

/** One panel's line for the row; a panel without the metric draws nothing. */
export function metricRowSeries(
  frame: Frame,
  row: MetricRow,
  panel: ChartPanel,
  durationS: number,
  xOf: (t: number) => number,
): string[] {
  const own = panel.metrics?.find((m) => metricLabel(m) === row.label)
  return metricPath(frame, own?.points ?? [], row.max, durationS, xOf)
}

/** A metric's line (and a light area under it) on a linear scale from 0 to `max`. */
function metricPath(
  frame: Frame,
  points: MetricSeries['points'],
  max: number,
  durationS: number,
  xOf: (t: number) => number,
): string[] {
  const yLin = (v: number) => frame.y + frame.h - (Math.min(v, max) / max) * frame.h
  const xy = points.map((p): Point => (p.value === null ? null : [xOf(p.t + 0.5), yLin(p.value)]))
  const lastLoadSecond = Math.ceil(durationS) - 1
  const main = xy.map((p, i) => (i <= lastLoadSecond ? p : null))
  const tail = xy.map((p, i) => (i >= lastLoadSecond ? p : null))
  const area = main.filter((p): p is [number, number] => p !== null)
  const line = (d: string, opacity: string) =>
    d
      ? `<path class="series metric" d="${d}" fill="none" stroke="${colors.metric}" stroke-width="2" stroke-linejoin="round"${opacity}/>`
      : ''
  const shade = area.length
    ? `<path class="series metric-area" d="${areaPath(area, frame.y + frame.h)}" fill="${colors.metric}" fill-opacity="0.15" stroke="none"/>`
    : ''
  return [shade, line(linePath(main), '') + line(linePath(tail), ' stroke-opacity="0.3"')]
}
