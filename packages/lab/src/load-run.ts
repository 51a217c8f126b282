/**
 * The load phase of a mode: k6 against the target instances (through the readiness-aware
 * balancer if the experiment asks), the fault timeline and the per-second sampler started at the
 * moment k6 starts (time zero of every chart), and the live progress line. `stop()` undoes all of
 * it whatever happened: every fault healed, the sampler and the balancer stopped.
 */
import { join, resolve } from 'node:path'
import { runK6 } from '@faultline/measure'
import { Balancer } from './balancer.ts'
import type { LabContext } from './context.ts'
import type { Experiment } from './experiment.ts'
import { toLedgerEntry } from './k6.ts'
import type { Ledger } from './ledger.ts'
import { LiveStats } from './live-stats.ts'
import { repoRoot } from './paths.ts'
import type { Progress } from './progress.ts'
import { Sampler } from './sampler.ts'
import { tail } from './services.ts'
import { Timeline, type TimelineEvent } from './timeline.ts'

export interface LoadRunOptions {
  exp: Experiment
  ctx: LabContext
  ledger: Ledger
  logDir: string
  progress: Progress
  signal: AbortSignal
  onEvent(event: TimelineEvent): void
  /** Called at time zero (k6's start), e.g. to start the setup faults' clock. */
  onStart?(): void
}

export class LoadRun {
  readonly timeline: Timeline
  readonly k6Log: string
  k6Result = { exitCode: -1, command: '', points: 0 }
  loadStartEpochMs = Date.now()
  sampler: Sampler | undefined
  private balancer: Balancer | undefined
  private ticker: NodeJS.Timeout | undefined
  private startMono = 0
  private readonly options: LoadRunOptions

  constructor(options: LoadRunOptions) {
    this.options = options
    this.k6Log = join(options.logDir, 'k6.log')
    this.timeline = new Timeline({
      faults: options.exp.timeline,
      context: options.ctx,
      onEvent: options.onEvent,
    })
  }

  /** Seconds since the load started. */
  elapsedS(): number {
    return (performance.now() - this.startMono) / 1000
  }

  /** Run k6 to the end with the timeline; throws when k6 failed or made no request. */
  async run(): Promise<void> {
    const { exp, ctx, progress, signal } = this.options
    const targets = await this.targets()
    const env: Record<string, string> = {
      BASE_URL: targets[0] ?? '',
      BASE_URLS: targets.join(','),
      DURATION: `${exp.load.durationS}s`,
      DURATION_S: String(exp.load.durationS),
      LAB_MODE: ctx.mode,
      ...exp.load.env,
    }
    progress.phase(
      ctx.mode,
      `load: ${exp.load.script} for ${exp.load.durationS} s against ${targets.length} instance(s)`,
    )
    const live = new LiveStats()
    this.k6Result = await runK6({
      script: resolve(repoRoot, exp.load.script),
      env,
      cwd: repoRoot,
      logFile: this.k6Log,
      workDir: this.options.logDir,
      signal,
      onStart: () => this.started(live),
      onPoint: (point) => {
        const entry = toLedgerEntry(point, this.loadStartEpochMs)
        this.options.ledger.add(entry)
        live.add(entry.endMs, entry.ok, entry.latencyMs)
      },
    })
    this.stopTicker()
    const { exitCode, points } = this.k6Result
    if (exitCode !== 0 && exitCode !== 99 && !signal.aborted) {
      throw new Error(`k6 exited with ${exitCode}:\n${tail(this.k6Log, 15)}`)
    }
    if (points === 0 && !signal.aborted)
      throw new Error(`k6 made no request; see ${this.k6Log}:\n${tail(this.k6Log, 15)}`)
    await this.timeline.stop()
  }

  /** The load's base URLs: the target instances, or the balancer in front of them. */
  private async targets(): Promise<string[]> {
    const { exp, ctx } = this.options
    const target = exp.load.target ?? 'api'
    if (!exp.load.balancer) return ctx.fleet.instancesOf(target).map((i) => i.url)
    const svc = ctx.fleet.services.find((s) => s.name === target)
    this.balancer = new Balancer({
      targets: () => ctx.fleet.instancesOf(target).map((i) => ({ name: i.name, url: i.url })),
      readyPath: svc?.readyPath ?? svc?.healthPath ?? '/healthz',
    })
    const url = await this.balancer.start()
    ctx.log(`load balancer on ${url} (routes to ready ${target} instances only)`)
    return [url]
  }

  /** k6's first request: time zero for the timeline, the sampler and the progress line. */
  private started(live: LiveStats): void {
    const { exp, ctx, progress } = this.options
    this.loadStartEpochMs = Date.now()
    this.startMono = performance.now()
    this.timeline.start().catch(() => {})
    this.options.onStart?.()
    this.sampler = new Sampler(ctx.fleet, this.startMono)
    this.sampler.start()
    this.ticker = setInterval(() => {
      const elapsedS = this.elapsedS()
      const last = live.second(Math.floor(elapsedS - 1.3))
      progress.status({ mode: ctx.mode, elapsedS, totalS: exp.load.durationS, ...last })
    }, 250)
  }

  private stopTicker(): void {
    if (this.ticker) clearInterval(this.ticker)
    this.ticker = undefined
    this.options.progress.done()
  }

  /** Heal every fault, stop sampling and the balancer. Idempotent, never throws. */
  async stop(): Promise<void> {
    this.stopTicker()
    await this.timeline.stop()
    await this.sampler?.stop()
    await this.balancer?.stop()
  }
}
