/**
 * After a mode's load: what its invariants see (the lab context extended with the run's
 * measurements) and the mode's part of `summary.json` (totals, the in-fault slice, per-op
 * stats, the ledger file, where every log is).
 */
import { writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { extendContext } from './context.ts'
import type { InvariantResult, RunContext } from './invariants.ts'
import { resolveWindow } from './invariants.ts'
import { namedMetricSeries } from './metric-series.ts'
import { MetricsView, readinessSeries } from './metrics-scrape.ts'
import type { ModeRun } from './mode-run.ts'
import { type ModeSummary, statsOf } from './summary.ts'
import { faultWindows } from './timeline.ts'
import { perSecond } from './timeseries.ts'

export function runContext(run: ModeRun): RunContext {
  const { exp } = run.args
  const faults = faultWindows(exp.timeline)
  const samples = run.load.sampler?.samples ?? []
  const events = [...run.setupFaults.events, ...run.load.timeline.events]
  return extendContext(run.ctx, {
    experiment: exp,
    durationS: exp.load.durationS,
    ledger: run.ledger,
    series: perSecond(run.ledger.entries, exp.load.durationS),
    faults,
    events,
    window: (sel: Parameters<RunContext['window']>[0]) => resolveWindow(sel, faults, exp.load.durationS),
    firings: (fault: number | string) =>
      events.filter(
        (e) =>
          e.phase === 'inject' &&
          e.status === 'ok' &&
          (typeof fault === 'number' ? e.fault === fault : exp.timeline[e.fault]?.action.kind === fault),
      ).length,
    metrics: new MetricsView(run.before, run.after, samples),
    readiness: readinessSeries(samples),
  })
}

export function modeSummary(run: ModeRun, ctx: RunContext, invariants: InvariantResult[]): ModeSummary {
  const { exp, mode, runDir } = run.args
  const { ledger, durationS, faults } = ctx
  const fw = faults.length > 0 ? ctx.window('fault') : undefined
  const inFaultLedger = fw ? ledger.select({ fromS: fw.fromS, toS: fw.toS }) : undefined
  const byOp: ModeSummary['byOp'] = {}
  for (const op of ledger.ops()) byOp[op] = statsOf(ledger.select({ op }), durationS)
  let ledgerFile: string | undefined
  if (runDir) {
    ledgerFile = join(runDir, `ledger-${mode}.csv`)
    writeFileSync(ledgerFile, ledger.toCsv())
  }
  const rel = (p: string) => (runDir ? relative(runDir, p) : p)
  const { k6Result } = run.load
  const instances = ctx.fleet.instances
  return {
    mode,
    mitigations: ctx.mitigations,
    appliedMitigations: run.applied,
    startedAt: run.startedAt,
    loadStartEpochMs: run.load.loadStartEpochMs,
    durationS,
    k6: { command: k6Result.command, exitCode: k6Result.exitCode, requests: k6Result.points },
    totals: statsOf(ledger, durationS),
    inFault: inFaultLedger && fw ? statsOf(inFaultLedger, Math.max(1, fw.toS - fw.fromS)) : null,
    faultWindow: fw ? { fromS: fw.fromS, toS: Math.min(fw.toS, exp.load.durationS) } : null,
    byOp,
    series: ctx.series,
    events: ctx.events,
    invariants,
    readiness: ctx.readiness,
    metricSeries: namedMetricSeries(exp.invariants, run.load.sampler?.samples ?? []),
    metrics: { before: MetricsView.table(run.before), after: MetricsView.table(run.after) },
    services: instances.map((i) => ({ name: i.name, pid: i.pid, port: i.port, logFile: rel(i.logFile) })),
    files: {
      ledger: ledgerFile ? rel(ledgerFile) : undefined,
      k6Log: rel(run.load.k6Log),
      logs: instances.map((i) => rel(i.logFile)),
    },
    errors: run.errors,
  }
}
