/** SVG drawing primitives the chart is built from: escaping, numbers, paths, row titles, grids. */

export const colors = {
  total: '#4c78a8',
  ok: '#54a24b',
  p50: '#2a9d8f',
  p99: '#f58518',
  errors: '#e45756',
  metric: '#8e44ad',
  fault: '#e45756',
  grid: '#e6e6e6',
  axis: '#8c8c8c',
  text: '#222222',
  muted: '#666666',
}

export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;')
}

export function num(n: number): string {
  return (Math.round(n * 10) / 10).toString()
}

/** A "nice" upper bound ≥ value: 1, 2, 2.5, 5 × 10^k. */
export function niceCeil(value: number): number {
  if (!(value > 0)) return 1
  const exp = 10 ** Math.floor(Math.log10(value))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * exp >= value) return m * exp
  return 10 * exp
}

export function formatCount(n: number): string {
  if (n >= 10_000) return `${Math.round(n / 1000)}k`
  if (n >= 1000) return `${(n / 1000).toFixed(1).replace(/\.0$/, '')}k`
  return String(Math.round(n * 100) / 100)
}

export interface Frame {
  x: number
  y: number
  w: number
  h: number
}

export type Point = [number, number] | null

/** `M…L…` with a new `M` after each gap (null), so missing seconds break the line. */
export function linePath(points: Point[]): string {
  let d = ''
  let pen = false
  for (const p of points) {
    if (p === null) {
      pen = false
      continue
    }
    d += `${pen ? 'L' : 'M'}${num(p[0])} ${num(p[1])}`
    pen = true
  }
  return d
}

export function areaPath(points: [number, number][], baseY: number): string {
  if (points.length === 0) return ''
  const first = points[0] as [number, number]
  const last = points[points.length - 1] as [number, number]
  return `M${num(first[0])} ${num(baseY)}${points.map(([x, y]) => `L${num(x)} ${num(y)}`).join('')}L${num(last[0])} ${num(baseY)}Z`
}

/** Cut `text` to about `px` wide at the 13 px row-title size (~6.6 px a character), with an ellipsis. */
export function fit(text: string, px: number): string {
  const chars = Math.max(8, Math.floor(px / 6.6))
  return text.length <= chars ? text : `${text.slice(0, chars - 1)}…`
}

export function rowTitle(frame: Frame, title: string, unit: string): string {
  return `<text x="${num(frame.x)}" y="${num(frame.y - 8)}" font-size="13"><tspan font-weight="600">${escapeXml(title)}</tspan><tspan dx="6" fill="${colors.muted}">· ${escapeXml(unit)}</tspan></text>`
}

export function yGrid(frame: Frame, ticks: { v: number; label: string }[]): string[] {
  const out: string[] = []
  for (const t of ticks) {
    const y = frame.y + frame.h - t.v * frame.h
    out.push(
      `<line x1="${num(frame.x)}" y1="${num(y)}" x2="${num(frame.x + frame.w)}" y2="${num(y)}" stroke="${colors.grid}"/>`,
    )
    out.push(
      `<text x="${num(frame.x - 8)}" y="${num(y + 4)}" text-anchor="end" font-size="11" fill="${colors.muted}">${escapeXml(t.label)}</text>`,
    )
  }
  return out
}
