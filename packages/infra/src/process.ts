import { spawn } from 'node:child_process'
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readlinkSync,
  readSync,
  realpathSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

/** Rotate a log past this size when a process is (re)started, so a long-lived lab never fills the disk. */
const maxLogBytes = 20 * 1024 * 1024

export interface SpawnSpec {
  command: string
  args: string[]
  cwd: string
  env?: NodeJS.ProcessEnv
  logFile: string
  /** Run as this OS user (only when we are root, e.g. Postgres refuses to run as root). */
  uid?: number
  gid?: number
}

/**
 * Start a long-running process that survives the CLI: its own session (so it is not killed with
 * our terminal), stdout and stderr appended to its log file, no handle kept by Node.
 */
export function spawnDetached(spec: SpawnSpec): number {
  if (existsSync(spec.logFile) && statSync(spec.logFile).size > maxLogBytes) {
    renameSync(spec.logFile, `${spec.logFile}.1`)
  }
  const fd = openSync(spec.logFile, 'a')
  writeSync(fd, `\n=== ${new Date().toISOString()} faultline infra: ${spec.command} ${spec.args.join(' ')}\n`)
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
      uid: spec.uid,
      gid: spec.gid,
    })
    // A spawn failure (ENOENT …) arrives as an event; the health wait then sees the process gone.
    child.on('error', () => {})
    child.unref()
    if (child.pid === undefined) throw new Error(`could not start ${spec.command}`)
    return child.pid
  } finally {
    closeSync(fd)
  }
}

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

export interface RunOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  uid?: number
  gid?: number
  timeoutMs?: number
}

/** Run a command to completion and capture its output (never throws on a non-zero exit). */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      uid: options.uid,
      gid: options.gid,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on('error', (err) => resolve({ code: 127, stdout, stderr: stderr + err.message }))
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }))
  })
}

/** Like `run`, but a non-zero exit throws with the command's last output lines. */
export async function runChecked(command: string, args: string[], options: RunOptions = {}): Promise<string> {
  const result = await run(command, args, options)
  if (result.code !== 0) {
    const output = lastLines(`${result.stdout}\n${result.stderr}`, 15)
    throw new Error(`${command} ${args.join(' ')} exited with ${result.code}:\n${output}`)
  }
  return result.stdout
}

/** Alive and not a zombie: an orphan reaped by nobody still answers `kill(pid, 0)`. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

/** The executable and command line of a process, for messages and for telling ours from a reused pid. */
export function describeProcess(pid: number): { exe?: string; cmdline: string } {
  let exe: string | undefined
  let cmdline = ''
  try {
    exe = readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '')
  } catch {}
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()
  } catch {}
  return { exe, cmdline }
}

/** The first line of a pidfile as a pid, or undefined when missing or garbage. */
export function readPidFile(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').split('\n')[0] ?? '', 10)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

function resolvePath(file: string): string {
  try {
    return realpathSync(file)
  } catch {
    return file
  }
}

/** True when `pid` runs `executable` (guards against a stale pidfile whose pid was reused). */
export function runsExecutable(pid: number, executable: string): boolean {
  if (!isAlive(pid)) return false
  const { exe, cmdline } = describeProcess(pid)
  // /proc/<pid>/exe is the resolved file (Debian's redis-server is a symlink to redis-check-rdb).
  if (exe !== undefined) return exe === resolvePath(executable)
  return cmdline.includes(executable.split('/').pop() ?? executable)
}

export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false
    await sleep(100)
  }
  return true
}

/**
 * Ask politely (`signal`), then SIGKILL the whole process group after `deadlineMs`. Detached
 * processes lead their own group, so helpers they forked (Postgres backends) die with them.
 */
export async function stopProcess(
  pid: number,
  signal: NodeJS.Signals,
  deadlineMs: number,
): Promise<'stopped' | 'killed'> {
  try {
    process.kill(pid, signal)
  } catch {}
  if (await waitForExit(pid, deadlineMs)) return 'stopped'
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL')
    } catch {}
  }
  if (await waitForExit(pid, 5000)) return 'killed'
  throw new Error(`pid ${pid} survived SIGKILL`)
}

export function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n')
}

/** The last `count` lines of a file ('' when it does not exist); reads at most the last 1 MiB. */
export function tailFile(file: string, count: number): string {
  if (!existsSync(file)) return ''
  const size = statSync(file).size
  const length = Math.min(size, 1024 * 1024)
  const buffer = Buffer.alloc(length)
  const fd = openSync(file, 'r')
  try {
    readSyncFully(fd, buffer, size - length)
  } finally {
    closeSync(fd)
  }
  return lastLines(buffer.toString('utf8'), count)
}

function readSyncFully(fd: number, buffer: Buffer, position: number): void {
  let offset = 0
  while (offset < buffer.length) {
    const read = readSync(fd, buffer, offset, buffer.length - offset, position + offset)
    if (read === 0) break
    offset += read
  }
}
