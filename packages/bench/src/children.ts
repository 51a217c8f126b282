/**
 * The processes under test, as children of the bench: started with their output in a log file,
 * optionally pinned to CPUs with taskset, waited for over HTTP, and stopped (SIGTERM, then SIGKILL
 * after a grace period). Every child is registered, so Ctrl-C or a crash of the bench stops them
 * too instead of leaving a service behind.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export interface Child {
  name: string
  pid: number
  logFile: string
  process: ChildProcess
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>
  exitCode: () => number | null | undefined
}

export interface StartOptions {
  name: string
  command: string
  args: string[]
  env?: Record<string, string>
  cwd?: string
  logFile: string
  /** `taskset -c <cpus>` (e.g. "1"): pin the child to these CPUs. */
  cpus?: string
}

const running = new Set<Child>()

/**
 * Aborted on Ctrl-C of the bench: k6 runs through @faultline/measure's runner, not startChild, and
 * takes this as its `signal`, so it is stopped with the children.
 */
export const interrupted = new AbortController()

export function startChild(options: StartOptions): Child {
  mkdirSync(dirname(options.logFile), { recursive: true })
  const fd = openSync(options.logFile, 'a')
  const [command, args] = options.cpus
    ? ['taskset', ['-c', options.cpus, options.command, ...options.args]]
    : [options.command, options.args]
  const proc = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', fd, fd],
  })
  closeSync(fd)
  if (proc.pid === undefined) throw new Error(`${options.name}: could not start ${command}`)
  let code: number | null | undefined
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (c) => {
      code = c
      running.delete(child)
      resolve(c)
    })
    proc.once('error', () => {
      code = null
      running.delete(child)
      resolve(null)
    })
  })
  const child: Child = {
    name: options.name,
    pid: proc.pid,
    logFile: options.logFile,
    process: proc,
    exited,
    exitCode: () => code,
  }
  running.add(child)
  return child
}

/** Polls `url` until it answers with a status below 500; throws on timeout or if `child` exits. */
export async function waitForHttp(
  url: string,
  options: { timeoutMs?: number; child?: Child } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000)
  let last = 'no answer'
  while (Date.now() < deadline) {
    const code = options.child?.exitCode()
    if (code !== undefined) {
      throw new Error(
        `${options.child?.name} exited (code ${code}) before ${url} answered; see ${options.child?.logFile}`,
      )
    }
    try {
      const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      if (res.status < 500) return
      last = `status ${res.status}`
    } catch (err) {
      last = (err as Error).message
    }
    await sleep(200)
  }
  throw new Error(
    `${url} did not answer in time (${last})${options.child ? `; see ${options.child.logFile}` : ''}`,
  )
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves once the child is gone. */
export async function stopChild(child: Child, graceMs = 5000): Promise<void> {
  if (child.exitCode() !== undefined) return
  child.process.kill('SIGTERM')
  const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs)
  await child.exited
  clearTimeout(timer)
}

export async function stopAll(graceMs = 5000): Promise<void> {
  await Promise.all([...running].reverse().map((c) => stopChild(c, graceMs)))
}

/** On SIGINT/SIGTERM of the bench itself: stop the children, then exit. */
export function stopChildrenOnSignal(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping ${running.size} child process(es)\n`)
      interrupted.abort()
      stopAll(2000).finally(() => process.exit(130))
    })
  }
}
