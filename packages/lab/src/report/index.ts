/** Renders and writes a run's results: `summary.json`, `report.md`, `chart.svg`. */
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { modes } from '../experiment.ts'
import { formatMs, formatPercent } from '../invariants.ts'
import type { Summary } from '../summary.ts'
import { type ChartInput, renderChart } from './chart-svg.ts'
import { mitigationText, renderReport } from './markdown.ts'

export { type ChartInput, type ChartPanel, renderChart } from './chart-svg.ts'
export { renderReport } from './markdown.ts'
export { computeVerdict, renderVerdictTable, type Verdict, type VerdictRow } from './verdict.ts'

export function chartInput(summary: Summary): ChartInput {
  const exp = summary.experiment
  const panels = modes.flatMap((mode) => {
    const run = summary.modes[mode]
    if (!run) return []
    const f = run.inFault
    const numbers = f
      ? `${run.faultWindow ? `${run.faultWindow.fromS}–${run.faultWindow.toS} s` : 'fault window'}: p99 ${f.p99Ms === null ? 'n/a' : formatMs(f.p99Ms)} · errors ${formatPercent(f.errorRate)} · ${f.rps.toFixed(0)} req/s`
      : `p99 ${run.totals.p99Ms === null ? 'n/a' : formatMs(run.totals.p99Ms)} · errors ${formatPercent(run.totals.errorRate)}`
    return [
      {
        title: `${mode} — ${mitigationText(run.mitigations)}`,
        subtitle: numbers,
        series: run.series,
        metrics: run.metricSeries ?? [],
      },
    ]
  })
  const verdict =
    summary.verdict.reproduces === null
      ? ''
      : summary.verdict.reproduces
        ? ' · reproduced'
        : ' · NOT reproduced'
  return {
    title: `${exp.id} ${exp.title} (${exp.system})${verdict}`,
    subtitle: [exp.catalog?.incident, exp.catalog?.mechanism].filter(Boolean).join(' — ') || undefined,
    durationS: exp.load.durationS,
    panels,
    faults: exp.faults,
  }
}

/** Write the three files into `dir` and point `<dir>/../latest` at it. */
export function writeResults(summary: Summary, dir: string): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`)
  writeFileSync(join(dir, 'chart.svg'), renderChart(chartInput(summary)))
  writeFileSync(join(dir, 'report.md'), renderReport(summary))
  const latest = join(dirname(dir), 'latest')
  try {
    rmSync(latest, { force: true })
    symlinkSync(basename(dir), latest)
  } catch {
    // A filesystem without symlinks: `latest` is a convenience only.
  }
}

/** Re-render `report.md` and `chart.svg` from an existing `summary.json` (after a renderer change). */
export function rerender(dir: string): Summary {
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary
  writeFileSync(join(dir, 'chart.svg'), renderChart(chartInput(summary)))
  writeFileSync(join(dir, 'report.md'), renderReport(summary))
  return summary
}
