/**
 * One mode of an experiment, in the order it happens: clean state (leftover toxics, the
 * experiment's `reset`), fresh service processes with the mode's switches, `setup`, the load with
 * its fault timeline, settling, the final scrape, the invariants. One lab context is built when
 * the mode starts and every phase extends it. Faults injected from setup are healed when the mode
 * ends, whatever happens.
 */
import { mkdirSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import type { LabClients } from './clients/registry.ts'
import { createLabContext, extendContext, type LabContext } from './context.ts'
import { type Experiment, type Mode, mitigationsFor } from './experiment.ts'
import type { InfraControl } from './infra.ts'
import { evaluateInvariants } from './invariants.ts'
import { Ledger } from './ledger.ts'
import { clearLeftovers } from './leftovers.ts'
import { LoadRun } from './load-run.ts'
import type { Scrape } from './metrics-scrape.ts'
import { applyMitigations } from './mitigations-apply.ts'
import { modeSummary, runContext } from './mode-summary.ts'
import { repoRoot } from './paths.ts'
import type { Progress } from './progress.ts'
import { scrapeAll } from './sampler.ts'
import { ServiceFleet } from './services.ts'
import type { ModeSummary } from './summary.ts'
import { Timeline, type TimelineEvent } from './timeline.ts'

export interface ModeRunArgs {
  exp: Experiment
  mode: Mode
  infra: InfraControl
  clients: LabClients
  logDir: string
  runDir: string | undefined
  progress: Progress
  signal: AbortSignal
  onFleet(fleet: ServiceFleet | undefined): void
}

/** What the phases of one mode share. */
export interface ModeRun {
  args: ModeRunArgs
  startedAt: string
  errors: string[]
  ctx: LabContext
  /** Faults injected from setup (`ctx.inject`): no plan, healed when the mode ends. */
  setupFaults: Timeline
  applied: Record<string, unknown>
  ledger: Ledger
  load: LoadRun
  before: Scrape[]
  after: Scrape[]
}

export async function runMode(args: ModeRunArgs): Promise<ModeSummary> {
  const run = prepare(args)
  const { exp, mode, progress, signal } = args
  try {
    progress.phase(mode, `resetting state (mitigations: ${describeSwitches(run.ctx.mitigations)})`)
    await clearLeftovers(run.ctx.toxiproxy, run.ctx.log, run.errors)
    await exp.reset?.(run.ctx)
    progress.phase(mode, `starting ${run.ctx.fleet.describe()}`)
    await run.ctx.fleet.start()
    if (signal.aborted) throw new Error('aborted')
    if (exp.setup) {
      progress.phase(mode, 'setup')
      await exp.setup(run.ctx)
    }
    run.before = await scrapeAll(run.ctx.fleet, -1)
    await run.load.run()
    await settle(run)
    await run.load.sampler?.stop()
    run.after = await scrapeAll(run.ctx.fleet, run.load.elapsedS())
    if (signal.aborted) throw new Error('aborted')
  } finally {
    await run.load.stop()
    await run.setupFaults.stop()
    for (const e of [...run.setupFaults.events, ...run.load.timeline.events]) {
      if (e.status === 'failed' && !run.errors.some((x) => x.includes(e.label)))
        run.errors.push(`${faultName(e)} failed: ${e.note}`)
    }
  }
  progress.phase(mode, 'checking invariants')
  const ctx = runContext(run)
  const invariants = await evaluateInvariants(exp.invariants, ctx)
  for (const r of invariants)
    run.ctx.log(`${r.holds ? '✓' : '✗'} ${r.name}: ${r.observed} (expected ${r.expected})`)
  return modeSummary(run, ctx, invariants)
}

/** The mode's fleet (not started yet) and its one lab context. */
function prepare(args: ModeRunArgs): ModeRun {
  const { exp, mode, progress } = args
  const mitigations = mitigationsFor(exp, mode)
  const errors: string[] = []
  const log = (m: string) => progress.line(`[${mode}] ${m}`)
  mkdirSync(args.logDir, { recursive: true })
  const applied: Record<string, unknown> = {}
  const fleet = new ServiceFleet({
    repoRoot,
    system: exp.system,
    services: exp.services,
    mode,
    mitigations,
    baseEnv: args.infra.serviceEnv(),
    experimentEnv: exp.env,
    logDir: args.logDir,
    log,
    afterStart: async (instance, svc) => {
      if (!svc.mitigationsPath) return
      applied[instance.name] = await applyMitigations(instance.url, svc.mitigationsPath, mitigations)
    },
  })
  args.onFleet(fleet)
  const onEvent = eventLogger(log, errors)
  let setupFaults: Timeline | undefined
  const ctx = createLabContext({
    mode,
    mitigations,
    clients: args.clients,
    infra: args.infra,
    fleet,
    inject: (action, label) => (setupFaults as Timeline).inject(action, label),
    log,
  })
  setupFaults = new Timeline({ faults: [], context: ctx, onEvent })
  const ledger = new Ledger()
  const load = new LoadRun({
    exp,
    ctx,
    ledger,
    logDir: args.logDir,
    progress,
    signal: args.signal,
    onEvent,
    // Setup's faults then show at their time before the load (negative seconds) in the report.
    onStart: () => void (setupFaults as Timeline).start().catch(() => {}),
  })
  const startedAt = new Date().toISOString()
  return { args, startedAt, errors, ctx, setupFaults, applied, ledger, load, before: [], after: [] }
}

/** Wait up to `settleS` after the load (consumers drain), or until `settleUntil` says done. */
async function settle(run: ModeRun): Promise<void> {
  const { exp, mode, progress, signal } = run.args
  if (!exp.settleS || signal.aborted) return
  progress.phase(mode, `settling (up to ${exp.settleS} s)`)
  const settleCtx = extendContext(run.ctx, { ledger: run.ledger })
  const deadline = performance.now() + exp.settleS * 1000
  while (performance.now() < deadline && !signal.aborted) {
    if (exp.settleUntil && (await exp.settleUntil(settleCtx).catch(() => false))) break
    await sleep(Math.min(1000, deadline - performance.now()), undefined, { signal }).catch(() => {})
  }
}

function faultName(e: TimelineEvent): string {
  return e.fault < 0 ? 'setup fault' : `F${e.fault + 1}`
}

/** Timeline events as progress lines; a failed inject or heal is also a run error. */
function eventLogger(log: (m: string) => void, errors: string[]): (e: TimelineEvent) => void {
  return (e) => {
    const what = e.phase === 'inject' ? 'fire' : 'heal'
    const name = faultName(e)
    if (e.status === 'started') log(`t=${e.tS.toFixed(1)} s  ${what} ${name}: ${e.label}`)
    else if (e.status === 'failed') {
      log(`t=${e.tS.toFixed(1)} s  ${what} ${name} FAILED: ${e.note}`)
      errors.push(`${what} ${name} (${e.label}) failed: ${e.note}`)
    } else if (e.note) log(`        ${name} ${what}: ${e.note}`)
  }
}

function describeSwitches(mitigations: Record<string, boolean>): string {
  return Object.entries(mitigations)
    .map(([k, v]) => `${k}=${v ? 'on' : 'off'}`)
    .join(', ')
}
