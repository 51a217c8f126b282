/**
 * `runExperiment`: for each mode (naive, then hardened) one mode run (mode-run.ts) on fresh
 * service processes, then the verdict and the results directory. Every fault is healed, every
 * child process stopped and every client closed whatever happens (an error, Ctrl-C through the
 * abort signal).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClientRegistry } from './clients/registry.ts'
import { modes as allModes, type Experiment, type Mode, resolveVariant } from './experiment.ts'
import { type InfraMode, infraControl, infraModeFrom } from './infra.ts'
import { acquireLock } from './lock.ts'
import { runMode } from './mode-run.ts'
import { defaultResultsDir, repoRoot } from './paths.ts'
import { createProgress, type Progress, silentProgress } from './progress.ts'
import { writeResults } from './report/index.ts'
import { runSummary } from './run-summary.ts'
import type { ServiceFleet } from './services.ts'
import type { ModeSummary, Summary } from './summary.ts'
import { errorText } from './timeline.ts'

export interface RunOptions {
  /** Run the short CI variant (the experiment's `ci` overrides). */
  ci?: boolean
  /** Default `both` (naive then hardened). */
  mode?: Mode | 'both'
  /** Base results dir (default `<repo>/results`); `false` writes no files (logs go to a temp dir). */
  out?: string | false
  /** Default: `FAULTLINE_INFRA`, else native. */
  infra?: InfraMode
  /** `true` prints progress to stderr; default silent. */
  progress?: Progress | boolean
  /** Abort to stop early: faults are healed and services stopped, the partial run is reported. */
  signal?: AbortSignal
  /** The command shown in the report as the way to regenerate it. */
  command?: string
}

export class LabRunError extends Error {
  override name = 'LabRunError'
  readonly summary: Summary
  constructor(message: string, summary: Summary) {
    super(message)
    this.summary = summary
  }
}

/** The results dir for one run: `<base>/<system>/<id>-<slug>/<2026-01-31T12-00-00Z>`. */
export function runDirFor(base: string, exp: Experiment, date: Date): string {
  const stamp = date
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replaceAll(':', '-')
  return join(base, exp.system.name, `${exp.id}-${exp.slug}`, stamp)
}

export function defaultCommand(exp: Experiment, options: Pick<RunOptions, 'ci' | 'mode'>): string {
  const parts = ['./faultline lab run', exp.name]
  if (options.ci) parts.push('--ci')
  if (options.mode && options.mode !== 'both') parts.push('--mode', options.mode)
  return parts.join(' ')
}

/**
 * Run an experiment: naive then hardened (or one of them), write the results, return the summary.
 * Throws `LabRunError` (with the partial summary) when a mode could not complete.
 */
export async function runExperiment(experiment: Experiment, options: RunOptions = {}): Promise<Summary> {
  const exp = resolveVariant(experiment, options.ci ?? false)
  const modesToRun = options.mode && options.mode !== 'both' ? [options.mode] : [...allModes]
  const progress =
    options.progress === true
      ? createProgress()
      : options.progress === false || !options.progress
        ? silentProgress
        : options.progress
  const startedAt = new Date()
  const runDir =
    options.out === false ? undefined : runDirFor(options.out ?? defaultResultsDir, exp, startedAt)
  const scratch = runDir ?? mkdtempSync(join(tmpdir(), 'faultline-lab-'))
  const infraMode = options.infra ?? infraModeFrom(undefined)
  const infra = infraControl(infraMode, repoRoot, (m) => progress.line(m))
  const controller = new AbortController()
  const onAbort = () => controller.abort()
  options.signal?.addEventListener('abort', onAbort, { once: true })
  if (options.signal?.aborted) controller.abort()

  const release = acquireLock()
  let fleet: ServiceFleet | undefined
  const emergency = () => fleet?.killAllNow()
  process.on('exit', emergency)
  const results: Partial<Record<Mode, ModeSummary>> = {}
  let aborted: string | undefined
  let clients: ClientRegistry | undefined
  try {
    progress.line(
      `${exp.name}: ${exp.title}${exp.variant === 'ci' ? ' (CI variant)' : ''} — modes: ${modesToRun.join(', ')}`,
    )
    await infra.ensure(exp.infra)
    clients = new ClientRegistry(infra)
    for (const mode of modesToRun) {
      if (controller.signal.aborted) {
        aborted ??= 'interrupted'
        break
      }
      const logDir = join(scratch, 'logs', mode)
      try {
        results[mode] = await runMode({
          exp,
          mode,
          infra,
          clients: clients.clients,
          logDir,
          runDir,
          progress,
          signal: controller.signal,
          onFleet: (f) => {
            fleet = f
          },
        })
      } catch (err) {
        aborted = controller.signal.aborted ? 'interrupted (Ctrl-C)' : `${mode} run failed: ${errorText(err)}`
        progress.line(`[${mode}] ${aborted}`)
        break
      } finally {
        progress.phase(mode, 'stopping services')
        await fleet?.stopAll()
        fleet = undefined
      }
    }
  } catch (err) {
    aborted = `could not start: ${errorText(err)}`
  } finally {
    await clients?.clients.toxiproxy.removeLabToxics().catch(() => [])
    await clients?.close()
    process.off('exit', emergency)
    options.signal?.removeEventListener('abort', onAbort)
    release()
  }

  const summary = runSummary({
    exp,
    command: options.command ?? defaultCommand(exp, options),
    startedAt,
    infra: infraMode,
    results,
  })
  if (aborted) summary.aborted = aborted
  if (runDir) {
    summary.outDir = runDir
    writeResults(summary, runDir)
  } else {
    summary.outDir = undefined
  }
  if (aborted)
    throw new LabRunError(
      `${exp.name}: ${aborted}${runDir ? `\n(partial results in ${runDir})` : `\n(logs in ${scratch})`}`,
      summary,
    )
  if (!runDir) rmSync(scratch, { recursive: true, force: true })
  return summary
}

/** For tests: the experiment reproduces (every invariant fails naive and holds hardened), or a readable failure. */
export function assertReproduces(summary: Summary): void {
  if (summary.verdict.reproduces === true) return
  const rows = summary.verdict.rows
    .map(
      (r) =>
        `  ${r.name} (expected ${r.expected}): naive ${r.naive ? `${r.naive.holds ? 'holds' : 'fails'} ${r.naive.observed}` : '—'}, hardened ${r.hardened ? `${r.hardened.holds ? 'holds' : 'fails'} ${r.hardened.observed}` : '—'} → ${r.verdict}`,
    )
    .join('\n')
  throw new Error(
    `${summary.experiment.name}: ${summary.verdict.headline}\n${rows}${summary.outDir ? `\nreport: ${summary.outDir}/report.md` : ''}`,
  )
}
