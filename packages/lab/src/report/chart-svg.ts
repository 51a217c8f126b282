/**
 * The chart: one column per mode (naive | hardened), three rows — throughput, latency (p50/p99,
 * log scale) and error rate — then one row per metric an invariant names (per second), on a
 * shared time axis with each fault window shaded. Hand-written SVG from a pure function; scales
 * are shared across columns so the two runs compare at a glance.
 */
import type { MetricSeries } from '../metric-series.ts'
import type { FaultWindow } from '../timeline.ts'
import type { SecondStats } from '../timeseries.ts'
import { type MetricRow, metricRowAxes, metricRowSeries, metricRows } from './chart-metric-rows.ts'
import {
  areaPath,
  colors,
  escapeXml,
  type Frame,
  formatCount,
  linePath,
  niceCeil,
  num,
  type Point,
  rowTitle,
  yGrid,
} from './svg.ts'

export { escapeXml, linePath, niceCeil } from './svg.ts'

export interface ChartPanel {
  /** Column heading, e.g. `naive — mitigations off`. */
  title: string
  /** Short numbers under the heading. */
  subtitle?: string
  series: SecondStats[]
  /** The metrics invariants read, per second (summary.json `metricSeries`). */
  metrics?: MetricSeries[]
}

export interface ChartInput {
  title: string
  subtitle?: string
  durationS: number
  panels: ChartPanel[]
  faults: FaultWindow[]
}

const layout = {
  width: 1280,
  marginLeft: 72,
  marginRight: 28,
  columnGap: 64,
  headerHeight: 112,
  columnTitleHeight: 50,
  rowTitleHeight: 22,
  rowGap: 26,
  rows: [
    { key: 'throughput', height: 170 },
    { key: 'latency', height: 190 },
    { key: 'errors', height: 120 },
  ] as const,
  metricRowHeight: 150,
  footerHeight: 44,
}

function timeStep(span: number): number {
  for (const step of [1, 2, 5, 10, 15, 30, 60, 120, 300, 600]) if (span / step <= 12) return step
  return 1200
}

function formatLatencyTick(ms: number): string {
  if (ms >= 1000) return `${ms / 1000} s`
  return `${ms} ms`
}

export function renderChart(input: ChartInput): string {
  const panels = input.panels.length > 0 ? input.panels : [{ title: 'no data', series: [] }]
  const n = panels.length
  const plotW = (layout.width - layout.marginLeft - layout.marginRight - layout.columnGap * (n - 1)) / n
  const spanS = Math.max(input.durationS, ...panels.map((p) => p.series.length), 1)
  const rowsTop = layout.headerHeight + layout.columnTitleHeight
  const metrics = metricRows(panels)
  const rowFrames: { key: string; y: number; h: number; metric?: number }[] = []
  let y = rowsTop
  const rows = [
    ...layout.rows.map((r) => ({ key: r.key as string, height: r.height })),
    ...metrics.map((_, i) => ({ key: 'metric', height: layout.metricRowHeight, metric: i })),
  ]
  for (const row of rows) {
    rowFrames.push({ ...row, y: y + layout.rowTitleHeight, h: row.height })
    y += layout.rowTitleHeight + row.height + layout.rowGap
  }
  const height = y - layout.rowGap + layout.footerHeight

  // Shared scales.
  const all = panels.flatMap((p) => p.series)
  const maxRps = niceCeil(Math.max(1, ...all.map((s) => s.count)))
  const latencies = all.flatMap((s) => [s.p50Ms, s.p99Ms]).filter((v): v is number => v !== null && v > 0)
  const minDecade = latencies.length ? Math.floor(Math.log10(Math.max(0.1, Math.min(...latencies)))) : 0
  let maxDecade = latencies.length ? Math.ceil(Math.log10(Math.max(...latencies))) : 3
  if (maxDecade <= minDecade) maxDecade = minDecade + 1
  const maxErr = Math.min(1, niceCeil(Math.max(0.01, ...all.map((s) => s.errorRate))))

  const out: string[] = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${num(height)}" viewBox="0 0 ${layout.width} ${num(height)}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12" fill="${colors.text}">`,
  )
  out.push(
    `<rect class="background" x="0" y="0" width="${layout.width}" height="${num(height)}" fill="#ffffff"/>`,
  )
  out.push(
    `<text x="${layout.marginLeft}" y="30" font-size="19" font-weight="600">${escapeXml(input.title)}</text>`,
  )
  if (input.subtitle) {
    out.push(
      `<text x="${layout.marginLeft}" y="52" font-size="13" fill="${colors.muted}">${escapeXml(input.subtitle)}</text>`,
    )
  }
  out.push(renderLegend(layout.marginLeft, 78, input.faults, metrics.length > 0))

  panels.forEach((panel, col) => {
    const x0 = layout.marginLeft + col * (plotW + layout.columnGap)
    const xOf = (t: number) => x0 + (t / spanS) * plotW
    out.push(`<g class="panel" data-panel="${col}">`)
    const columnTop = layout.headerHeight
    out.push(
      `<text x="${num(x0)}" y="${columnTop + 16}" font-size="16" font-weight="600">${escapeXml(panel.title)}</text>`,
    )
    if (panel.subtitle) {
      out.push(
        `<text x="${num(x0)}" y="${columnTop + 34}" font-size="12" fill="${colors.muted}">${escapeXml(panel.subtitle)}</text>`,
      )
    }
    for (const row of rowFrames) {
      const frame: Frame = { x: x0, y: row.y, w: plotW, h: row.h }
      const bottom = row === rowFrames[rowFrames.length - 1]
      out.push(`<g class="row ${row.key}">`)
      if (row.key === 'throughput') {
        out.push(rowTitle(frame, 'Throughput', 'requests per second'))
        out.push(
          ...yGrid(
            frame,
            [0, maxRps / 2, maxRps].map((v) => ({ v: v / maxRps, label: formatCount(v) })),
          ),
        )
      } else if (row.key === 'latency') {
        out.push(rowTitle(frame, 'Latency', 'p50 and p99 per second, log scale'))
        const ticks = []
        for (let d = minDecade; d <= maxDecade; d++)
          ticks.push({ v: (d - minDecade) / (maxDecade - minDecade), label: formatLatencyTick(10 ** d) })
        out.push(...yGrid(frame, ticks))
      } else if (row.metric !== undefined) {
        out.push(...metricRowAxes(frame, metrics[row.metric] as MetricRow))
      } else {
        out.push(rowTitle(frame, 'Errors', 'failed or unanswered requests, % per second'))
        out.push(
          ...yGrid(
            frame,
            [0, maxErr / 2, maxErr].map((v) => ({ v: v / maxErr, label: `${Math.round(v * 1000) / 10}%` })),
          ),
        )
      }
      out.push(...faultShapes(frame, input.faults, xOf, row.key === 'throughput'))
      out.push(...xAxis(frame, spanS, xOf, bottom))
      if (row.metric !== undefined) {
        out.push(...metricRowSeries(frame, metrics[row.metric] as MetricRow, panel, input.durationS, xOf))
      } else {
        out.push(
          ...rowSeries(row.key, frame, panel.series, input.durationS, xOf, {
            maxRps,
            minDecade,
            maxDecade,
            maxErr,
          }),
        )
      }
      if (input.durationS < spanS) {
        const xe = xOf(input.durationS)
        out.push(
          `<line class="load-end" x1="${num(xe)}" y1="${num(frame.y)}" x2="${num(xe)}" y2="${num(frame.y + frame.h)}" stroke="${colors.axis}" stroke-dasharray="2 3"/>`,
        )
      }
      out.push('</g>')
    }
    out.push('</g>')
  })

  out.push(
    `<text x="${layout.width / 2}" y="${num(height - 12)}" text-anchor="middle" font-size="12" fill="${colors.muted}">seconds since the load started · shaded: fault active · dotted: load stopped${metrics.length > 0 ? ' · metrics summed over instances' : ''}</text>`,
  )
  out.push('</svg>')
  return `${out.join('\n')}\n`
}

function xAxis(frame: Frame, spanS: number, xOf: (t: number) => number, labels: boolean): string[] {
  const out: string[] = []
  const base = frame.y + frame.h
  out.push(
    `<line x1="${num(frame.x)}" y1="${num(base)}" x2="${num(frame.x + frame.w)}" y2="${num(base)}" stroke="${colors.axis}"/>`,
  )
  const step = timeStep(spanS)
  for (let t = 0; t <= spanS + 1e-9; t += step) {
    const x = xOf(t)
    out.push(
      `<line x1="${num(x)}" y1="${num(base)}" x2="${num(x)}" y2="${num(base + 4)}" stroke="${colors.axis}"/>`,
    )
    if (labels) {
      out.push(
        `<text x="${num(x)}" y="${num(base + 17)}" text-anchor="middle" font-size="11" fill="${colors.muted}">${t}</text>`,
      )
    }
  }
  return out
}

function faultShapes(
  frame: Frame,
  faults: FaultWindow[],
  xOf: (t: number) => number,
  labels: boolean,
): string[] {
  const out: string[] = []
  faults.forEach((f, i) => {
    const x1 = xOf(f.fromS)
    const x2 = xOf(f.toS)
    if (f.toS > f.fromS) {
      out.push(
        `<rect class="fault" data-fault="${i}" x="${num(x1)}" y="${num(frame.y)}" width="${num(x2 - x1)}" height="${num(frame.h)}" fill="${colors.fault}" fill-opacity="0.12"/>`,
      )
    } else {
      out.push(
        `<line class="fault" data-fault="${i}" x1="${num(x1)}" y1="${num(frame.y)}" x2="${num(x1)}" y2="${num(frame.y + frame.h)}" stroke="${colors.fault}" stroke-width="2" stroke-opacity="0.6"/>`,
      )
    }
    if (f.firesS.length > 1) {
      for (const t of f.firesS) {
        const x = xOf(t)
        out.push(
          `<line class="fault-fire" x1="${num(x)}" y1="${num(frame.y)}" x2="${num(x)}" y2="${num(frame.y + 6)}" stroke="${colors.fault}" stroke-width="1.5"/>`,
        )
      }
    }
    if (labels) {
      // Faults that start together get their labels side by side, not on top of each other.
      const before = faults.slice(0, i).filter((g) => g.fromS === f.fromS).length
      out.push(
        `<text x="${num(x1 + 4 + before * 20)}" y="${num(frame.y + 14)}" font-size="11" font-weight="600" fill="${colors.fault}">F${i + 1}</text>`,
      )
    }
  })
  return out
}

function renderLegend(x: number, y: number, faults: FaultWindow[], metrics: boolean): string {
  const items: string[] = []
  let cx = x
  const swatch = (color: string, label: string, dashed = false) => {
    items.push(
      `<line x1="${num(cx)}" y1="${num(y - 4)}" x2="${num(cx + 18)}" y2="${num(y - 4)}" stroke="${color}" stroke-width="2.5"${dashed ? ' stroke-dasharray="4 3"' : ''}/>`,
    )
    items.push(`<text x="${num(cx + 24)}" y="${num(y)}" font-size="12">${escapeXml(label)}</text>`)
    cx += 24 + label.length * 6.6 + 18
  }
  swatch(colors.total, 'all requests/s')
  swatch(colors.ok, 'successful/s', true)
  swatch(colors.p50, 'p50')
  swatch(colors.p99, 'p99')
  swatch(colors.errors, 'error rate')
  if (metrics) swatch(colors.metric, 'metric an invariant reads')
  const faultText = faults
    .map(
      (f, i) =>
        `F${i + 1} ${f.label} (${f.toS > f.fromS ? `${f.fromS}–${f.toS} s` : `at ${f.fromS} s`}${f.firesS.length > 1 ? `, ×${f.firesS.length}` : ''})`,
    )
    .join(' · ')
  if (faultText) {
    const fy = y + 20
    items.push(
      `<rect x="${num(x)}" y="${num(fy - 11)}" width="18" height="12" fill="${colors.fault}" fill-opacity="0.25"/>`,
    )
    items.push(`<text x="${num(x + 24)}" y="${num(fy)}" font-size="12">${escapeXml(faultText)}</text>`)
  }
  return `<g class="legend">${items.join('')}</g>`
}

function rowSeries(
  key: string,
  frame: Frame,
  series: SecondStats[],
  durationS: number,
  xOf: (t: number) => number,
  scales: { maxRps: number; minDecade: number; maxDecade: number; maxErr: number },
): string[] {
  const mid = (t: number) => xOf(t + 0.5)
  const yLin = (v: number, max: number) => frame.y + frame.h - (Math.min(v, max) / max) * frame.h
  const yLog = (ms: number) => {
    const d = Math.log10(Math.max(ms, 10 ** scales.minDecade))
    const f = (d - scales.minDecade) / (scales.maxDecade - scales.minDecade)
    return frame.y + frame.h - Math.min(1, f) * frame.h
  }
  // Seconds after the load stopped hold only stragglers: drawn faint so a half-empty last bucket
  // does not read as a collapse.
  const lastLoadSecond = Math.ceil(durationS) - 1
  const path = (cls: string, color: string, points: Point[], extra = '') => {
    const main = points.map((p, i) => (i <= lastLoadSecond ? p : null))
    const tail = points.map((p, i) => (i >= lastLoadSecond ? p : null))
    const line = (d: string, opacity: string) =>
      d
        ? `<path class="series ${cls}" d="${d}" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round"${opacity}${extra}/>`
        : ''
    return line(linePath(main), '') + line(linePath(tail), ' stroke-opacity="0.3"')
  }
  if (key === 'throughput') {
    return [
      path(
        'throughput',
        colors.total,
        series.map((s) => [mid(s.t), yLin(s.count, scales.maxRps)]),
      ),
      path(
        'goodput',
        colors.ok,
        series.map((s) => [mid(s.t), yLin(s.ok, scales.maxRps)]),
        ' stroke-dasharray="5 3"',
      ),
    ]
  }
  if (key === 'latency') {
    return [
      path(
        'p50',
        colors.p50,
        series.map((s) => (s.p50Ms === null ? null : [mid(s.t), yLog(s.p50Ms)])),
      ),
      path(
        'p99',
        colors.p99,
        series.map((s) => (s.p99Ms === null ? null : [mid(s.t), yLog(s.p99Ms)])),
      ),
    ]
  }
  const points = series.map((s): [number, number] => [mid(s.t), yLin(s.errorRate, scales.maxErr)])
  return [
    `<path class="series errors-area" d="${areaPath(points.slice(0, lastLoadSecond + 1), frame.y + frame.h)}" fill="${colors.errors}" fill-opacity="0.18" stroke="none"/>`,
    path('errors', colors.errors, points),
  ]
}
