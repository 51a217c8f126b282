#!/usr/bin/env node
/**
 * `faultline lab <command>`: run chaos experiments naive and hardened and report what happened.
 * Progress and logs go to stderr; tables and the verdict to stdout.
 */
import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parseArgs } from 'node:util'
import { type Experiment, type Mode, resolveVariant } from './experiment.ts'
import { type InfraMode, infraModeFrom } from './infra.ts'
import { repoRoot } from './paths.ts'
import { createProgress } from './progress.ts'
import {
  builtinExperiments,
  chaosDir,
  experimentFiles,
  loadExperiment,
  resolveExperimentFile,
} from './registry.ts'
import { rerender } from './report/index.ts'
import { renderVerdictTable } from './report/verdict.ts'
import { LabRunError, runExperiment } from './runner.ts'
import { faultLabel } from './timeline.ts'

const help: Record<string, string> = {
  main: `usage: faultline lab <command> [options]

Runs a chaos experiment twice under the same k6 load — naive (the experiment's mitigations off)
and hardened (on) — injects its faults on a timeline, checks its invariants and writes a report.

commands:
  list                 every experiment with its catalog id
  show <experiment>    what an experiment does: services, load, timeline, invariants
  run <experiment>     run it and write results/<system>/<experiment>/<timestamp>/
  report <dir>         re-render report.md and chart.svg from a results dir's summary.json
  test [system]        run every experiment's CI test (chaos/<system>/test/*.test.ts)

<experiment> is <system>/<file> from chaos/, e.g. shortener/pm10-hot-key-stampede, or just
shortener/pm10; lab/selftest is the lab's own end-to-end check; a path to a .ts file also works.

Run "faultline lab <command> --help" for a command's options.`,
  list: `usage: faultline lab list [--json]

Lists chaos/<system>/pmNN-*.ts with id, title and incident.
  --json   machine-readable`,
  show: `usage: faultline lab show <experiment> [--ci]

Prints the plan without running anything.
  --ci     show the short CI variant`,
  run: `usage: faultline lab run <experiment> [options]

  --mode naive|hardened|both   which runs (default both: naive, then hardened)
  --ci                         the short CI variant (shorter load, lower rate)
  --out <dir>                  results base dir (default <repo>/results)
  --infra native|compose|external
                               how to get the infrastructure (default $FAULTLINE_INFRA or native:
                               started with the infra CLI if not running; external: use the URLs
                               in the environment, no process-level faults)
  --quiet                      no progress, only the verdict

Writes <out>/<system>/<id>-<slug>/<timestamp>/{report.md,summary.json,chart.svg,ledger-*.csv,logs/}
and points <out>/<system>/<id>-<slug>/latest at it.
Exit code: 0 reproduced (or a single mode completed), 1 not reproduced, 2 the run failed.
Ctrl-C stops early: faults are healed and services stopped first; a second Ctrl-C forces.`,
  report: `usage: faultline lab report <results-dir>

Re-renders report.md and chart.svg from <results-dir>/summary.json and prints the verdict.`,
  test: `usage: faultline lab test [system]

Runs chaos/<system>/test/*.test.ts (every system by default) with node --test, one at a time.
Each test runs its experiment's CI variant and asserts: invariants fail naive, hold hardened.`,
}

function out(text: string): void {
  process.stdout.write(`${text}\n`)
}

function pad(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? []
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

async function list(json: boolean): Promise<number> {
  const files = [...experimentFiles(), ...Object.values(builtinExperiments)]
  const rows: { name: string; id: string; title: string; incident: string; file: string }[] = []
  const { catalogRow } = await import('./catalog.ts')
  for (const file of files) {
    try {
      const exp = await loadExperiment(file)
      const { row } = catalogRow(exp.id, exp.catalog, repoRoot)
      const builtin = Object.entries(builtinExperiments).find(([, f]) => f === file)?.[0]
      rows.push({
        name: builtin ?? exp.name,
        id: exp.id,
        title: exp.title,
        incident: row?.incident ?? '',
        file: relative(repoRoot, file),
      })
    } catch (err) {
      rows.push({
        name: relative(chaosDir, file),
        id: '?',
        title: `(does not load: ${(err as Error).message.split('\n')[0]})`,
        incident: '',
        file,
      })
    }
  }
  if (json) {
    out(JSON.stringify(rows, null, 2))
    return 0
  }
  if (rows.length === 0) {
    out('no experiments yet (chaos/<system>/pmNN-<slug>.ts)')
    return 0
  }
  const short = (s: string) => (s.length > 60 ? `${s.slice(0, 59)}…` : s)
  out(
    pad([
      ['EXPERIMENT', 'ID', 'TITLE', 'INCIDENT'],
      ...rows.map((r) => [r.name, r.id, r.title, short(r.incident)]),
    ]),
  )
  return 0
}

function describePlan(exp: Experiment): string {
  const lines = [`${exp.name} — ${exp.title}${exp.variant === 'ci' ? ' (CI variant)' : ''}`, '']
  if (exp.description) lines.push(exp.description, '')
  lines.push('services:')
  for (const [name, s] of Object.entries(exp.services)) {
    lines.push(
      `  ${name} × ${s.instances ?? 1} (${exp.system.services[name]?.entry ?? '?'})${s.env ? ` env ${JSON.stringify(s.env)}` : ''}`,
    )
  }
  lines.push(
    `load: ${exp.load.script} for ${exp.load.durationS} s${exp.load.env ? ` env ${JSON.stringify(exp.load.env)}` : ''}`,
  )
  lines.push(
    `mitigations (hardened): ${Object.entries(exp.mitigations)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}; naive: all off`,
  )
  lines.push('timeline (s since load start):')
  exp.timeline.forEach((f, i) => {
    const span = f.until === undefined ? `at ${f.at}` : `${f.at}–${f.until}`
    const rep = f.every === undefined ? '' : ` every ${f.every} s${f.hold ? ` (held ${f.hold} s)` : ''}`
    lines.push(`  F${i + 1} ${span}${rep}: ${faultLabel(f)}`)
  })
  if (exp.settleS) lines.push(`settle: ${exp.settleS} s after the load`)
  lines.push('invariants:')
  for (const inv of exp.invariants) {
    lines.push(
      `  - ${inv.name}: ${inv.expected}${inv.expect === 'always' ? ' (must hold in both modes)' : ''}`,
    )
  }
  return lines.join('\n')
}

async function run(
  ref: string,
  values: { mode?: string; ci?: boolean; out?: string; infra?: string; quiet?: boolean },
): Promise<number> {
  const mode = (values.mode ?? 'both') as Mode | 'both'
  if (!['naive', 'hardened', 'both'].includes(mode))
    throw new UsageError(`--mode must be naive, hardened or both (got ${mode})`)
  const infra: InfraMode = infraModeFrom(values.infra)
  const exp = await loadExperiment(resolveExperimentFile(ref))
  const builtin = Object.entries(builtinExperiments).find(([name]) => name === ref)?.[0]
  const command = ['./faultline lab run', builtin ?? exp.name]
  if (values.ci) command.push('--ci')
  if (mode !== 'both') command.push('--mode', mode)
  if (values.infra) command.push('--infra', values.infra)

  const controller = new AbortController()
  let interrupts = 0
  const onSignal = () => {
    interrupts++
    if (interrupts === 1) {
      process.stderr.write('\n[lab] stopping: healing faults and stopping services (Ctrl-C again to force)\n')
      controller.abort()
    } else {
      process.exit(130)
    }
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    const summary = await runExperiment(exp, {
      ci: values.ci ?? false,
      mode,
      out: values.out,
      infra,
      progress: values.quiet ? false : createProgress(),
      signal: controller.signal,
      command: command.join(' '),
    })
    out('')
    out(renderVerdictTable(summary.verdict, { color: Boolean(process.stdout.isTTY) }))
    if (summary.outDir) out(`\nreport: ${relative(process.cwd(), join(summary.outDir, 'report.md'))}`)
    return summary.verdict.reproduces === false ? 1 : 0
  } catch (err) {
    if (err instanceof LabRunError) {
      out('')
      if (err.summary.verdict.rows.length > 0) out(renderVerdictTable(err.summary.verdict))
      process.stderr.write(`[lab] ${err.message}\n`)
      return controller.signal.aborted ? 130 : 2
    }
    throw err
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

function chaosTests(system?: string): string[] {
  if (!existsSync(chaosDir)) return []
  const systems = system
    ? [system]
    : readdirSync(chaosDir).filter((d) => existsSync(join(chaosDir, d, 'test')))
  return systems.flatMap((s) => {
    const dir = join(chaosDir, s, 'test')
    if (!existsSync(dir)) return []
    return readdirSync(dir)
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => join(dir, f))
  })
}

async function test(system?: string): Promise<number> {
  const files = chaosTests(system)
  if (files.length === 0) {
    process.stderr.write(`[lab] no experiment tests under chaos/${system ?? '*'}/test/ yet\n`)
    return 0
  }
  const register = join(repoRoot, 'packages', 'lab', 'src', 'register.ts')
  // A CI variant takes ≤ ~90 s; an experiment still running after 5 min is hung, and fails.
  const args = ['--import', register, '--test', '--test-concurrency=1', '--test-timeout=300000', ...files]
  return new Promise((done) => {
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: 'inherit' })
    child.on('exit', (code, signal) => done(code ?? (signal ? 1 : 0)))
  })
}

class UsageError extends Error {
  override name = 'UsageError'
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      mode: { type: 'string' },
      ci: { type: 'boolean' },
      out: { type: 'string' },
      infra: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const [command, ...rest] = positionals
  if (command === undefined || command === 'help') {
    out(help.main as string)
    return command === undefined && !values.help ? 2 : 0
  }
  const commandHelp = help[command]
  if (!commandHelp) throw new UsageError(`unknown command "${command}"\n\n${help.main}`)
  if (values.help) {
    out(commandHelp)
    return 0
  }
  switch (command) {
    case 'list':
      return list(values.json ?? false)
    case 'show': {
      if (rest.length !== 1) throw new UsageError(commandHelp)
      const exp = await loadExperiment(resolveExperimentFile(rest[0] as string))
      out(describePlan(resolveVariant(exp, values.ci ?? false)))
      return 0
    }
    case 'run':
      if (rest.length !== 1) throw new UsageError(commandHelp)
      return run(rest[0] as string, values)
    case 'report': {
      if (rest.length !== 1) throw new UsageError(commandHelp)
      const summary = rerender(rest[0] as string)
      out(renderVerdictTable(summary.verdict, { color: Boolean(process.stdout.isTTY) }))
      out(`\nreport: ${join(rest[0] as string, 'report.md')}`)
      return 0
    }
    case 'test':
      return test(rest[0])
    default:
      throw new UsageError(help.main as string)
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: Error) => {
    process.stderr.write(`[lab] ${err.name === 'UsageError' ? '' : `${err.name}: `}${err.message}\n`)
    process.exitCode = 2
  },
)
