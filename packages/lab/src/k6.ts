/**
 * k6 as the load generator. k6 writes every sample with `--out json=<fifo>`; the lab reads the
 * named pipe as it is written (k6 flushes about every 200 ms), keeps only `http_req_duration`
 * points — one per request, carrying its end time, latency, status and tags — and drops the rest
 * without parsing them. Nothing lands on disk, and progress is live.
 *
 * Why not CSV: the CSV output has one-second timestamps by default and the same number of rows;
 * JSON lines carry nanosecond timestamps and every tag, and a prefix test skips the twelve other
 * metrics per request cheaply.
 */
import { execFileSync, spawn } from 'node:child_process'
import { closeSync, constants, createReadStream, existsSync, openSync, rmSync, writeSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { LedgerEntry } from './ledger.ts'

/**
 * The k6 binary: `$FAULTLINE_K6`, else the one the infra installs under
 * `$FAULTLINE_CACHE/bin/k6` (default `~/.cache/faultline/bin/k6`), else `k6` on PATH.
 */
export function k6Binary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FAULTLINE_K6) return env.FAULTLINE_K6
  const cached = join(env.FAULTLINE_CACHE || join(homedir(), '.cache', 'faultline'), 'bin', 'k6')
  return existsSync(cached) ? cached : 'k6'
}

/** System tags kept on every sample; the rest (url, proto, tls_version …) only cost bytes. */
export const systemTags = ['status', 'method', 'name', 'scenario', 'expected_response', 'error_code', 'group']

export interface K6Point {
  /** Epoch milliseconds (fractional) at which the request finished. */
  timeMs: number
  latencyMs: number
  tags: Record<string, string>
}

const timePattern = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/

/** RFC 3339 with up to nanoseconds → epoch ms, keeping the sub-millisecond part. */
export function parseK6Time(text: string): number {
  const m = timePattern.exec(text)
  if (!m) return Number.NaN
  const whole = Date.parse(`${m[1]}${m[3]}`)
  const fraction = m[2] ? Number(`0${m[2]}`) : 0
  return whole + fraction * 1000
}

/** One JSON line of k6's output → the request it describes, or null for any other sample. */
export function parseK6Line(line: string): K6Point | null {
  if (!line.includes('"metric":"http_req_duration"') || !line.includes('"type":"Point"')) return null
  let parsed: {
    metric?: string
    type?: string
    data?: { time?: string; value?: number; tags?: Record<string, string> }
  }
  try {
    parsed = JSON.parse(line)
  } catch {
    return null
  }
  if (parsed.metric !== 'http_req_duration' || parsed.type !== 'Point' || !parsed.data) return null
  const timeMs = parseK6Time(parsed.data.time ?? '')
  if (!Number.isFinite(timeMs) || typeof parsed.data.value !== 'number') return null
  return { timeMs, latencyMs: parsed.data.value, tags: parsed.data.tags ?? {} }
}

const droppedTags = new Set([
  ...systemTags,
  'url',
  'proto',
  'subproto',
  'tls_version',
  'check',
  'error',
  'service',
])

/** A k6 point as a ledger entry, with times relative to the load start. */
export function toLedgerEntry(point: K6Point, loadStartEpochMs: number): LedgerEntry {
  const { tags } = point
  const status = Number(tags.status ?? 0) || 0
  const endMs = point.timeMs - loadStartEpochMs
  const own: Record<string, string> = {}
  for (const [k, v] of Object.entries(tags)) if (!droppedTags.has(k)) own[k] = v
  const entry: LedgerEntry = {
    endMs,
    startMs: endMs - point.latencyMs,
    latencyMs: point.latencyMs,
    status,
    ok:
      tags.expected_response === undefined
        ? status >= 200 && status < 400
        : tags.expected_response === 'true',
    op: tags.op ?? tags.name ?? '',
    scenario: tags.scenario ?? '',
    method: tags.method ?? '',
    tags: own,
  }
  if (tags.error_code) entry.errorCode = Number(tags.error_code)
  return entry
}

/** Splits a byte stream into lines across chunk boundaries. */
export class LineSplitter {
  private rest = ''
  private readonly onLine: (line: string) => void

  constructor(onLine: (line: string) => void) {
    this.onLine = onLine
  }

  push(chunk: string): void {
    const text = this.rest + chunk
    let start = 0
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      this.onLine(text.slice(start, nl))
      start = nl + 1
    }
    this.rest = text.slice(start)
  }

  end(): void {
    if (this.rest) this.onLine(this.rest)
    this.rest = ''
  }
}

export interface K6Options {
  script: string
  env: Record<string, string>
  cwd: string
  /** k6's own stdout/stderr (its end-of-test summary, warnings) go here. */
  logFile: string
  /** Where the named pipe is created. */
  workDir: string
  binary?: string
  /** The moment k6 opened its output: its init is done and the load begins now. */
  onStart?: () => void
  onPoint: (point: K6Point) => void
  signal?: AbortSignal
}

export interface K6Result {
  /** k6's exit code: 0, or 99 when a threshold of the script failed (expected in naive runs). */
  exitCode: number
  /** The command line, for the report. */
  command: string
  points: number
}

/** k6's arguments: quiet, no usage report (no internet), no REST API port clash, JSON to the pipe. */
export function k6Args(script: string, env: Record<string, string>, outPath: string): string[] {
  const args = ['run', '--quiet', '--no-color', '--no-usage-report', '--address', '127.0.0.1:0']
  args.push('--system-tags', systemTags.join(','), '--out', `json=${outPath}`)
  for (const [k, v] of Object.entries(env)) args.push('-e', `${k}=${v}`)
  args.push(script)
  return args
}

/** Run k6 to completion, streaming every request to `onPoint`. Aborting stops k6 (SIGINT, then SIGKILL). */
export async function runK6(options: K6Options): Promise<K6Result> {
  const binary = options.binary ?? k6Binary()
  const fifo = join(options.workDir, `k6-${process.pid}-${Date.now()}.jsonl.fifo`)
  execFileSync('mkfifo', [fifo])
  const args = k6Args(options.script, options.env, fifo)
  const command = [binary, ...args].map(shellQuote).join(' ')
  const log = openSync(options.logFile, 'a')
  writeSync(log, `$ ${command}\n`)
  let points = 0
  try {
    const child = spawn(binary, args, {
      cwd: options.cwd,
      stdio: ['ignore', log, log],
      env: { ...process.env, K6_NO_USAGE_REPORT: 'true' },
    })
    const exited = new Promise<number>((resolve) => {
      child.on('error', (err) => {
        writeSync(log, `k6 failed to start: ${err.message}\n`)
        resolve(127)
      })
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)))
    })
    const onAbort = () => {
      child.kill('SIGINT')
      setTimeout(() => child.kill('SIGKILL'), 5000).unref()
    }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    if (options.signal?.aborted) onAbort()

    let opened = false
    const splitter = new LineSplitter((line) => {
      const point = parseK6Line(line)
      if (point) {
        points++
        options.onPoint(point)
      }
    })
    const stream = createReadStream(fifo, { encoding: 'utf8', highWaterMark: 1 << 20 })
    const drained = new Promise<void>((resolve, reject) => {
      stream.on('open', () => {
        opened = true
        options.onStart?.()
      })
      stream.on('data', (chunk) => splitter.push(chunk as string))
      stream.on('end', () => splitter.end())
      stream.on('close', () => resolve())
      stream.on('error', reject)
    })
    const exitCode = await exited
    options.signal?.removeEventListener('abort', onAbort)
    // k6 died before opening the pipe: our pending open would block forever, so be its writer.
    if (!opened) {
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK))
      } catch {
        stream.destroy()
      }
    }
    await drained
    return { exitCode, command, points }
  } finally {
    closeSync(log)
    rmSync(fifo, { force: true })
  }
}

/** `k6 version` → `k6 v1.8.1`, or `k6 (unavailable)`. */
export function k6Version(binary = k6Binary()): string {
  try {
    return (
      execFileSync(binary, ['version'], { encoding: 'utf8', timeout: 10_000 }).split(' (')[0]?.trim() ?? ''
    )
  } catch {
    return 'k6 (unavailable)'
  }
}

export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`
}
