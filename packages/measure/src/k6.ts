/**
 * The one k6 runner: the lab's experiments and the bench's measurements start k6 through
 * `runK6`, so the binary, the arguments, the environment and the way k6 is stopped are the same
 * everywhere. What a caller wants back picks the outputs:
 *
 * - `onPoint`: every request streamed live. k6 writes `--out json=<fifo>`; the runner reads the
 *   named pipe as it is written (k6 flushes about every 200 ms), keeps only `http_req_duration`
 *   points — one per request, with its end time, latency, status and tags — and drops the rest
 *   without parsing them. Nothing lands on disk. JSON lines rather than CSV here: they carry
 *   nanosecond timestamps and every tag, and a prefix test skips the other metrics cheaply.
 * - `csvPath`: every sample to a CSV file, read after the run (the bench's knee): on a 2-core
 *   machine a parser running during a ramp steals CPU from the service it measures.
 * - `summaryPath`: the end-of-test JSON of loadtests/lib/summary.js (it honours SUMMARY_PATH).
 *
 * k6 exits 99 when a threshold of its script failed: for a measurement that is a result, not an
 * error, so the exit code is returned, never thrown.
 */
import { execFileSync, spawn } from 'node:child_process'
import {
  closeSync,
  constants,
  createReadStream,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import { k6Binary } from '@faultline/infra'

/** System tags kept on every sample; the rest (url, proto, tls_version …) only cost bytes. */
export const systemTags = ['status', 'method', 'name', 'scenario', 'expected_response', 'error_code', 'group']

/** Environment that gives k6's CSV microsecond timestamps (the default is whole seconds). */
export const k6CsvEnv = { K6_CSV_TIME_FORMAT: 'unix_micro' } as const

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

/** The parts of loadtests/lib/summary.js's JSON (`faultline.k6-summary/1`) the reports read. */
export interface K6Summary {
  schema: string
  durationMs: number
  http: { reqs: number; rps: number; failedRate: number; durationMs?: Record<string, number> }
  droppedIterations: number
  scenarios: Record<string, { reqs?: number; failedRate?: number; durationMs?: Record<string, number> }>
  metrics: Record<string, { type: string; values: Record<string, number> }>
}

export interface K6Options {
  script: string
  /** The script's knobs, passed as `-e KEY=value` (the scripts read `__ENV`). */
  env: Record<string, string>
  cwd?: string
  /** k6's own stdout/stderr (its end-of-test summary, warnings) are appended here. */
  logFile: string
  /** Default: `k6Binary()` of @faultline/infra. */
  binary?: string
  /** Stream every request here as k6 writes it (needs `workDir` for the named pipe). */
  onPoint?: (point: K6Point) => void
  /** Where the named pipe is created; required with `onPoint`. */
  workDir?: string
  /** Write every sample to this CSV (k6 `--out csv=`), with microsecond timestamps. */
  csvPath?: string
  /** Where k6 writes the end-of-test summary JSON; parsed into the result. */
  summaryPath?: string
  /** System tags to keep (default `systemTags`). */
  systemTags?: readonly string[]
  /** `taskset -c <cpus>`: pin k6 to these CPUs. */
  cpus?: string
  /**
   * GOGC for k6 (default Go's 100). On a 2-core machine shared with the system under test, Go's
   * collector at its default pace took about a fifth of k6's CPU in the bench's measurements,
   * CPU the server then did not get; 400 costs a few hundred MB more and gives it back.
   */
  gogc?: number
  /** Stop k6 after this long (scripts are bounded themselves: this is the backstop). */
  timeoutMs?: number
  /** Stops k6: SIGINT (k6 ends gracefully, writes its summary and exits 105), SIGKILL 5 s later. */
  signal?: AbortSignal
  /** k6's process started (its pid, e.g. to sample its CPU). */
  onSpawn?: (pid: number) => void
  /**
   * The load begins: k6 opened its output pipe (its init is done) with `onPoint`, else the moment
   * it was started.
   */
  onStart?: () => void
}

export interface K6Result {
  /** k6's exit code: 0, 99 when a threshold of the script failed, 105 when stopped, 127 not started. */
  exitCode: number
  /** The command line, for the report. */
  command: string
  /** Requests streamed to `onPoint`. */
  points: number
  startedAtMs: number
  endedAtMs: number
  /** The summary k6 wrote to `summaryPath`, if it did. */
  summary: K6Summary | undefined
}

/** k6's arguments: quiet, no usage report (no internet), no REST API port clash, the outputs, env as -e. */
export function k6Args(
  options: Pick<K6Options, 'script' | 'env' | 'csvPath' | 'systemTags'> & { jsonOut?: string },
): string[] {
  const args = ['run', '--quiet', '--no-color', '--no-usage-report', '--address', '127.0.0.1:0']
  args.push('--system-tags', (options.systemTags ?? systemTags).join(','))
  if (options.jsonOut) args.push('--out', `json=${options.jsonOut}`)
  if (options.csvPath) args.push('--out', `csv=${options.csvPath}`)
  for (const [k, v] of Object.entries(options.env)) args.push('-e', `${k}=${v}`)
  args.push(options.script)
  return args
}

/** The environment k6 runs with: ours, plus what the chosen outputs need. */
function k6ProcessEnv(options: K6Options): NodeJS.ProcessEnv {
  return {
    ...process.env,
    K6_NO_USAGE_REPORT: 'true',
    ...(options.gogc !== undefined ? { GOGC: String(options.gogc) } : {}),
    ...(options.csvPath ? k6CsvEnv : {}),
    ...(options.summaryPath ? { SUMMARY_PATH: options.summaryPath } : {}),
  }
}

function readSummary(path: string | undefined): K6Summary | undefined {
  if (path === undefined) return undefined
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as K6Summary
  } catch {
    return undefined
  }
}

/** Run k6 to completion. Aborting (or `timeoutMs`) stops k6: SIGINT, then SIGKILL. */
export async function runK6(options: K6Options): Promise<K6Result> {
  if (options.onPoint && !options.workDir) throw new Error('runK6: onPoint needs a workDir for its pipe')
  const binary = options.binary ?? k6Binary()
  const fifo = options.onPoint
    ? join(options.workDir as string, `k6-${process.pid}-${Date.now()}.jsonl.fifo`)
    : undefined
  if (fifo) execFileSync('mkfifo', [fifo])
  const args = k6Args({ ...options, ...(fifo ? { jsonOut: fifo } : {}) })
  const command = [binary, ...args].map(shellQuote).join(' ')
  mkdirSync(dirname(options.logFile), { recursive: true })
  const log = openSync(options.logFile, 'a')
  writeSync(log, `$ ${command}\n`)
  const [file, argv] = options.cpus ? ['taskset', ['-c', options.cpus, binary, ...args]] : [binary, args]
  let points = 0
  const stopper = new AbortController()
  const signals = [stopper.signal, ...(options.signal ? [options.signal] : [])]
  const stop = AbortSignal.any(signals)
  const timer =
    options.timeoutMs === undefined ? undefined : setTimeout(() => stopper.abort(), options.timeoutMs)
  try {
    const startedAtMs = Date.now()
    const child = spawn(file as string, argv as string[], {
      ...(options.cwd ? { cwd: options.cwd } : {}),
      stdio: ['ignore', log, log],
      env: k6ProcessEnv(options),
    })
    const exited = new Promise<number>((resolve) => {
      child.on('error', (err) => {
        writeSync(log, `k6 failed to start: ${err.message}\n`)
        resolve(127)
      })
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)))
    })
    if (child.pid !== undefined) options.onSpawn?.(child.pid)
    const onAbort = () => {
      child.kill('SIGINT')
      setTimeout(() => child.kill('SIGKILL'), 5000).unref()
    }
    stop.addEventListener('abort', onAbort, { once: true })
    if (stop.aborted) onAbort()

    const drained = fifo ? streamPoints(fifo, options, () => points++) : undefined
    if (!fifo) options.onStart?.()
    const exitCode = await exited
    stop.removeEventListener('abort', onAbort)
    if (drained) await drained.finish()
    return {
      exitCode,
      command,
      points,
      startedAtMs,
      endedAtMs: Date.now(),
      summary: readSummary(options.summaryPath),
    }
  } finally {
    if (timer) clearTimeout(timer)
    closeSync(log)
    if (fifo) rmSync(fifo, { force: true })
  }
}

/** Reads the pipe k6 writes its JSON lines to; `finish()` after k6 exited waits for the last line. */
function streamPoints(
  fifo: string,
  options: K6Options,
  counted: () => void,
): { finish: () => Promise<void> } {
  let opened = false
  const splitter = new LineSplitter((line) => {
    const point = parseK6Line(line)
    if (point) {
      counted()
      options.onPoint?.(point)
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
  return {
    finish: async () => {
      // k6 died before opening the pipe: our pending open would block forever, so be its writer.
      if (!opened) {
        try {
          closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK))
        } catch {
          stream.destroy()
        }
      }
      await drained
    },
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
