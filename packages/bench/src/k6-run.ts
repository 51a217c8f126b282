/**
 * Runs one k6 test as a child process: `-e` for every knob (the scripts read __ENV), the JSON
 * summary to a file (loadtests/lib/summary.js honours SUMMARY_PATH), optionally every sample to a
 * CSV, and stdout/stderr to a log. k6 exits 99 when a threshold failed — for a measurement that
 * is a result, not an error, so the exit code is returned, never thrown.
 *
 * k6 runs with GOGC=400 (unless GOGC is set): on a 2-core machine it shares with the system under
 * test, Go's collector at its default pace took about a fifth of k6's CPU in our measurements, CPU
 * the server then did not get. Memory is not the constraint here (a few hundred MB more).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { ensureK6, k6Path } from '@faultline/infra'
import { type Child, startChild } from './children.ts'
import { k6CsvEnv, k6SystemTags } from './k6-csv.ts'

export interface K6RunOptions {
  script: string
  env: Record<string, string>
  summaryPath: string
  logFile: string
  /** Write every sample here (k6 `--out csv=`), with microsecond timestamps. */
  csvPath?: string
  /** taskset CPU list for k6. */
  cpus?: string
  /** Kill k6 after this long (it is bounded by its own script too; this is the backstop). */
  timeoutMs: number
  onStart?: (child: Child) => void
}

export interface K6RunResult {
  exitCode: number | null
  startedAtMs: number
  endedAtMs: number
  /** The parsed `faultline.k6-summary/1` JSON, if k6 wrote it. */
  summary: K6Summary | undefined
}

/** The parts of loadtests/lib/summary.js's JSON the bench reads. */
export interface K6Summary {
  schema: string
  durationMs: number
  http: { reqs: number; rps: number; failedRate: number; durationMs?: Record<string, number> }
  droppedIterations: number
  scenarios: Record<string, { reqs?: number; failedRate?: number; durationMs?: Record<string, number> }>
  metrics: Record<string, { type: string; values: Record<string, number> }>
}

let binary: string | undefined

/** The k6 binary the infra installs (built on first use). */
export async function k6Binary(): Promise<string> {
  if (binary === undefined) binary = existsSync(k6Path()) ? k6Path() : await ensureK6()
  return binary
}

export async function k6Version(): Promise<string> {
  try {
    return (
      execFileSync(await k6Binary(), ['version'], { encoding: 'utf8' })
        .split('\n')[0]
        ?.trim() ?? 'unknown'
    )
  } catch {
    return 'unknown'
  }
}

export function k6Args(options: Pick<K6RunOptions, 'script' | 'env' | 'csvPath'>): string[] {
  const args = [
    'run',
    '--quiet',
    '--no-color',
    '--no-usage-report',
    `--system-tags=${k6SystemTags.join(',')}`,
  ]
  if (options.csvPath) args.push('--out', `csv=${options.csvPath}`)
  for (const [key, value] of Object.entries(options.env)) args.push('-e', `${key}=${value}`)
  args.push(options.script)
  return args
}

export async function runK6(options: K6RunOptions): Promise<K6RunResult> {
  const child = startChild({
    name: 'k6',
    command: await k6Binary(),
    args: k6Args(options),
    env: { GOGC: process.env.GOGC ?? '400', ...k6CsvEnv, SUMMARY_PATH: options.summaryPath },
    logFile: options.logFile,
    ...(options.cpus ? { cpus: options.cpus } : {}),
  })
  const startedAtMs = Date.now()
  options.onStart?.(child)
  const timer = setTimeout(() => {
    child.process.kill('SIGTERM')
    setTimeout(() => child.process.kill('SIGKILL'), 5000).unref()
  }, options.timeoutMs)
  const exitCode = await child.exited
  clearTimeout(timer)
  let summary: K6Summary | undefined
  try {
    summary = JSON.parse(readFileSync(options.summaryPath, 'utf8')) as K6Summary
  } catch {
    summary = undefined
  }
  return { exitCode, startedAtMs, endedAtMs: Date.now(), summary }
}
