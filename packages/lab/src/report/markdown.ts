/** `report.md`: what the experiment reproduces, the verdict, the chart, key numbers, the timeline and how to rerun it. */
import { type Mode, modes } from '../experiment.ts'
import { formatMs, formatPercent } from '../invariants.ts'
import type { ModeSummary, Stats, Summary } from '../summary.ts'
import type { TimelineEvent } from '../timeline.ts'
import type { VerdictCell } from './verdict.ts'

function md(text: string | number): string {
  return String(text).replaceAll('|', '\\|').replaceAll('\n', ' ')
}

function cell(c: VerdictCell | undefined): string {
  if (!c) return '—'
  return `${c.holds ? '✅' : '❌'} ${md(c.observed)}`
}

function ms(v: number | null | undefined): string {
  return v === null || v === undefined ? 'n/a' : formatMs(v)
}

function seconds(t: number): string {
  return `${Number.isInteger(t) ? t : t.toFixed(1)} s`
}

/** Which mitigations a mode ran with, in words. */
export function mitigationText(mitigations: Record<string, boolean>): string {
  const entries = Object.entries(mitigations)
  if (entries.length === 0) return 'none'
  if (entries.every(([, on]) => !on)) return `all off (${entries.map(([k]) => k).join(', ')})`
  return entries.map(([k, on]) => `${k} ${on ? 'on' : 'off'}`).join(', ')
}

function statRows(runs: { mode: Mode; run: ModeSummary }[]): string[] {
  const row = (label: string, f: (r: ModeSummary) => string) =>
    `| ${label} | ${runs.map(({ run }) => f(run)).join(' | ')} |`
  const inFault = (f: (s: Stats) => string) => (r: ModeSummary) => (r.inFault ? f(r.inFault) : 'n/a')
  const span = runs.find(({ run }) => run.faultWindow)?.run.faultWindow
  const fault = span ? `fault window (${span.fromS}–${seconds(span.toS)})` : 'fault window'
  return [
    `| | ${runs.map(({ mode }) => mode).join(' | ')} |`,
    `|---|${runs.map(() => '---:').join('|')}|`,
    row('requests', (r) => String(r.totals.requests)),
    row('throughput (mean req/s over the load)', (r) => r.totals.rps.toFixed(1)),
    row('failed or unanswered', (r) => `${r.totals.errors} (${formatPercent(r.totals.errorRate)})`),
    row(
      'latency p50 / p99 / max, whole run',
      (r) => `${ms(r.totals.p50Ms)} / ${ms(r.totals.p99Ms)} / ${ms(r.totals.maxMs)}`,
    ),
    row(
      `latency p50 / p99, ${fault}`,
      inFault((s) => `${ms(s.p50Ms)} / ${ms(s.p99Ms)}`),
    ),
    row(
      `error rate, ${fault}`,
      inFault((s) => formatPercent(s.errorRate)),
    ),
    row(
      `requests/s, ${fault}`,
      inFault((s) => s.rps.toFixed(1)),
    ),
    row(
      'k6 exit code',
      (r) => `${r.k6.exitCode}${r.k6.exitCode === 99 ? ' (a script threshold failed)' : ''}`,
    ),
  ]
}

function eventLine(e: TimelineEvent): string {
  const took =
    e.tookMs === undefined
      ? ''
      : ` (${e.tookMs < 1000 ? `${Math.round(e.tookMs)} ms` : `${(e.tookMs / 1000).toFixed(1)} s`})`
  const what = e.phase === 'inject' ? 'fired' : `healed${e.reason === 'cleanup' ? ' at cleanup' : ''}`
  const status = e.status === 'failed' ? ' — **FAILED**' : ''
  // A negative index is a fault injected from setup (`ctx.inject`), not a timeline entry.
  const name = e.fault < 0 ? 'setup' : `F${e.fault + 1}`
  return `${seconds(Number(e.tS.toFixed(1)))} · ${name} ${md(e.label)} ${what}${took}${status}${e.note ? `: ${md(e.note)}` : ''}`
}

export function renderReport(summary: Summary): string {
  const exp = summary.experiment
  const runs = modes.flatMap((mode) => {
    const run = summary.modes[mode]
    return run ? [{ mode, run }] : []
  })
  const out: string[] = []
  out.push(`# ${exp.id} · ${exp.title} — ${exp.system}`, '')
  const v = summary.verdict
  const badge = v.reproduces === null ? 'ℹ️' : v.reproduces ? '✅' : '❌'
  out.push(`> ${badge} **${md(v.headline)}**`, '')
  if (summary.aborted) out.push(`> ⚠️ Run incomplete: ${md(summary.aborted)}`, '')

  const c = exp.catalog
  out.push('## What this reproduces', '')
  if (c) {
    out.push(`- **Catalog row:** ${c.id}`)
    if (c.incident) out.push(`- **Incident:** ${md(c.incident)}`)
    if (c.mechanism) out.push(`- **Mechanism:** ${md(c.mechanism)}`)
    if (c.fault) out.push(`- **Fault injected:** ${md(c.fault)}`)
    if (c.invariant) out.push(`- **Invariant:** ${md(c.invariant)}`)
    if (c.mitigation) out.push(`- **Mitigation:** ${md(c.mitigation)}`)
  } else {
    out.push(`- **Catalog row:** ${exp.id} (not found in the catalog)`)
  }
  if (exp.description) out.push('', exp.description)
  out.push('')

  out.push('## Verdict', '')
  out.push(
    'An invariant reproduces the incident when it **fails naive** (every mitigation of the experiment off) and **holds hardened** (on).',
    '',
  )
  out.push('| Invariant | Expected | Naive | Hardened | Verdict |', '|---|---|---|---|---|')
  for (const r of v.rows) {
    const expect = r.expect === 'always' ? ' *(must hold in both)*' : ''
    out.push(
      `| ${md(r.name)}${expect} | ${md(r.expected)} | ${cell(r.naive)} | ${cell(r.hardened)} | ${r.verdict} |`,
    )
  }
  const details = runs.flatMap(({ mode, run }) =>
    run.invariants.filter((i) => i.detail).map((i) => `- ${mode} · ${md(i.name)}: ${md(i.detail as string)}`),
  )
  if (details.length > 0) out.push('', ...details)
  out.push('')

  out.push('## Chart', '')
  const charted = [...new Set(runs.flatMap(({ run }) => (run.metricSeries ?? []).map((m) => m.metric)))]
  const alt = `Throughput, latency, errors${charted.length ? ` and ${charted.join(', ')}` : ''} per second`
  out.push(`![${alt}, naive and hardened side by side](chart.svg)`, '')

  if (runs.length > 0) {
    out.push('## Key numbers', '')
    out.push(...statRows(runs), '')
    const ops = [...new Set(runs.flatMap(({ run }) => Object.keys(run.byOp)))]
    if (ops.length > 1) {
      out.push('Per operation (whole run):', '')
      out.push(`| op | ${runs.map(({ mode }) => `${mode} requests / errors / p99`).join(' | ')} |`)
      out.push(`|---|${runs.map(() => '---:').join('|')}|`)
      for (const op of ops) {
        out.push(
          `| ${md(op)} | ${runs
            .map(({ run }) => {
              const s = run.byOp[op]
              return s ? `${s.requests} / ${formatPercent(s.errorRate)} / ${ms(s.p99Ms)}` : '—'
            })
            .join(' | ')} |`,
        )
      }
      out.push('')
    }
  }

  out.push('## Timeline', '')
  out.push(
    `Load: \`${md(exp.load.script)}\` for ${exp.load.durationS} s. Faults, in seconds since the load started:`,
    '',
  )
  out.push('| | at | until | action |', '|---|---:|---:|---|')
  exp.timeline.forEach((f, i) => {
    const until = f.until === undefined ? '—' : seconds(f.until)
    const repeat =
      f.every === undefined
        ? ''
        : ` — every ${f.every} s${f.hold === undefined ? '' : `, each held ${f.hold} s`}`
    out.push(`| F${i + 1} | ${seconds(f.at)} | ${until} | ${md(f.label)}${repeat} |`)
  })
  out.push('')
  for (const { mode, run } of runs) {
    const shown = run.events.length > 40 ? run.events.slice(0, 40) : run.events
    out.push(`<details><summary>What fired in the ${mode} run (${run.events.length} events)</summary>`, '')
    for (const e of shown) out.push(`- ${eventLine(e)}`)
    if (run.events.length > shown.length)
      out.push(`- … ${run.events.length - shown.length} more in summary.json`)
    out.push('', '</details>', '')
  }

  out.push('## Setup', '')
  const services = Object.entries(exp.services).map(
    ([name, s]) => `${name} × ${s.instances} (\`${s.entry}\`)`,
  )
  out.push(`- **Services:** ${services.join(', ')}`)
  const env = Object.entries(exp.load.env ?? {}).map(([k, val]) => `${k}=${val}`)
  out.push(
    `- **Load:** \`${md(exp.load.script)}\`, ${exp.load.durationS} s${env.length ? `, ${env.map((e) => `\`${md(e)}\``).join(' ')}` : ''}`,
  )
  for (const { mode, run } of runs) {
    out.push(`- **Mitigations, ${mode}:** ${mitigationText(run.mitigations)}`)
  }
  const applied = runs.flatMap(({ mode, run }) =>
    Object.entries(run.appliedMitigations).map(
      ([inst, value]) => `${mode} ${inst}: \`${md(JSON.stringify(value))}\``,
    ),
  )
  if (applied.length > 0) out.push(`- **Switches as the services reported them:** ${applied.join('; ')}`)
  out.push(
    `- **Variant:** ${exp.variant}${exp.variant === 'ci' ? ' (the short CI variant)' : ''}; infra: ${summary.infra}`,
  )
  const errors = runs.flatMap(({ mode, run }) => run.errors.map((e) => `${mode}: ${md(e)}`))
  if (errors.length > 0) out.push('', '**Problems during the run:**', '', ...errors.map((e) => `- ${e}`))
  out.push('')

  out.push('## Reproduce', '', '```sh', summary.command, '```', '')
  const m = summary.machine
  out.push('## Machine', '')
  out.push(
    `${md(m.cpuModel)}, ${m.cores} cores, ${m.memoryGiB} GiB RAM · ${md(m.os)} · Node ${m.node} · ${md(m.k6)} · run ${summary.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`,
    '',
  )
  out.push('## Files', '')
  out.push('- `summary.json` — every number above, the per-second series, events, metrics before/after')
  out.push('- `chart.svg` — the chart')
  for (const { mode, run } of runs) {
    const files = [run.files.ledger, run.files.k6Log, ...run.files.logs]
      .filter(Boolean)
      .map((f) => `\`${f}\``)
    out.push(`- ${mode}: ${files.join(', ')}`)
  }
  out.push('')
  return out.join('\n')
}
