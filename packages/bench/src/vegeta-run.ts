/**
 * Runs vegeta (see @faultline/infra's components/vegeta.ts for why a second generator) at a
 * constant rate: a warm-up attack, then the measured one, each a child process, then
 * `vegeta report -type=json` on the measured results. Same rules as the k6 open-model run:
 * redirects are not followed (a 301/302 is a success), the worker pool is rate × the p99 target
 * (openModelVus) so a slow server shows up as requests the generator could not send on time
 * ("dropped": offered − sent), never as a pool that grows until the generator itself needs the
 * CPU.
 */
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ensureVegeta, vegetaBinary as vegetaModule } from '@faultline/infra'
import { type Child, startChild } from './children.ts'
import type { RunStats } from './open-model.ts'

const exec = promisify(execFile)

/** One GET of a run: its absolute URL and the headers it sends (an API key …). */
export interface VegetaTarget {
  url: string
  headers?: Readonly<Record<string, string>>
}

export interface VegetaRunOptions {
  /** Absolute URLs (or URLs with headers), requested round robin (GET). */
  urls: ReadonlyArray<string | VegetaTarget>
  rate: number
  durationS: number
  warmupS: number
  /** Initial and maximum workers (in-flight requests). */
  workers: number
  /** Where the targets, results and report go. */
  dir: string
  label: string
  /** taskset CPU list for vegeta. */
  cpus?: string
  onStart?: (child: Child) => void
}

/** The parts of `vegeta report -type=json` read here (latencies in nanoseconds). */
export interface VegetaReport {
  requests: number
  rate: number
  success: number
  latencies: { '50th': number; '90th': number; '99th': number; max: number }
  status_codes: Record<string, number>
}

const nsToMs = (ns: number | undefined) => (typeof ns === 'number' && Number.isFinite(ns) ? ns / 1e6 : null)

/** Pure: a report as the bench's run statistics. */
export function vegetaStats(report: VegetaReport, rate: number, durationS: number): RunStats {
  const requests = report.requests
  return {
    requests,
    failedRate: requests > 0 ? 1 - report.success : 1,
    dropped: Math.max(0, Math.round(rate * durationS) - requests),
    p50Ms: requests > 0 ? nsToMs(report.latencies['50th']) : null,
    p90Ms: requests > 0 ? nsToMs(report.latencies['90th']) : null,
    p99Ms: requests > 0 ? nsToMs(report.latencies['99th']) : null,
    p999Ms: null,
    maxMs: requests > 0 ? nsToMs(report.latencies.max) : null,
  }
}

/**
 * vegeta's targets file, used round robin: one `GET <url>` per line; a target with headers has
 * them on the lines below its `GET` (`Name: value`) and a blank line after them.
 */
export function vegetaTargets(urls: ReadonlyArray<string | VegetaTarget>): string {
  const lines = urls.map((target) => {
    if (typeof target === 'string') return `GET ${target}`
    const headers = Object.entries(target.headers ?? {}).map(([name, value]) => `\n${name}: ${value}`)
    return headers.length === 0 ? `GET ${target.url}` : `GET ${target.url}${headers.join('')}\n`
  })
  return `${lines.join('\n')}\n`
}

let binary: string | undefined

async function vegetaCommand(): Promise<string> {
  binary ??= await ensureVegeta()
  return binary
}

/** The version built (a `go install` build carries none of its own in `vegeta -version`). */
export function vegetaVersion(): string {
  return `vegeta ${vegetaModule.version} (${vegetaModule.module})`
}

export interface VegetaRunResult {
  exitCode: number | null
  /** Start of the warm-up, so the measured part begins warmupS after it (as with k6). */
  startedAtMs: number
  endedAtMs: number
  stats: RunStats | undefined
}

export async function runVegeta(o: VegetaRunOptions): Promise<VegetaRunResult> {
  const command = await vegetaCommand()
  const targetsFile = join(o.dir, `vegeta-${o.label}.targets`)
  writeFileSync(targetsFile, vegetaTargets(o.urls))
  const resultsFile = join(o.dir, `vegeta-${o.label}.bin`)
  const logFile = join(o.dir, `vegeta-${o.label}.log`)
  const attack = (seconds: number, output: string) => {
    const child = startChild({
      name: 'vegeta',
      command,
      args: [
        'attack',
        `-targets=${targetsFile}`,
        `-rate=${o.rate}/s`,
        `-duration=${seconds}s`,
        '-redirects=-1',
        `-workers=${o.workers}`,
        `-max-workers=${o.workers}`,
        '-timeout=10s',
        `-output=${output}`,
      ],
      logFile,
      ...(o.cpus ? { cpus: o.cpus } : {}),
    })
    o.onStart?.(child)
    const timer = setTimeout(() => child.process.kill('SIGKILL'), (seconds + 30) * 1000)
    return child.exited.finally(() => clearTimeout(timer))
  }
  const startedAtMs = Date.now()
  const warm = await attack(o.warmupS, '/dev/null')
  const exitCode = warm === 0 ? await attack(o.durationS, resultsFile) : warm
  const endedAtMs = Date.now()
  if (exitCode !== 0) return { exitCode, startedAtMs, endedAtMs, stats: undefined }
  const { stdout } = await exec(command, ['report', '-type=json', resultsFile])
  writeFileSync(join(o.dir, `vegeta-${o.label}.json`), stdout)
  const report = JSON.parse(stdout) as VegetaReport
  return { exitCode, startedAtMs, endedAtMs, stats: vegetaStats(report, o.rate, o.durationS) }
}
