/**
 * Pieces every system's bench target shares: one process of a service started the way the lab
 * starts it (loopback, a free or given port, waited for until /readyz answers), and the
 * `with-system` command line that runs a load test against a system of its own.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { freePort } from '@faultline/infra'
import { type Child, startChild, stopChild, waitForHttp } from './children.ts'
import { envPairs } from './cli-args.ts'
import { resultsDir } from './report.ts'
import type { StartSystemOptions } from './target.ts'

export interface ServiceProcessSpec {
  /** The repository root (the process's cwd). */
  repoRoot: string
  /** The service's folder; `entry` is under its `src/`. */
  serviceDir: string
  entry: string
  /** The process's name: its log file and the start of its INSTANCE_ID. */
  name: string
  env: Record<string, string>
  /** @default a free port */
  port?: number
  /** @default 60 000 */
  startTimeoutMs?: number
}

/** One process of a system on a loopback port, once its /readyz answers (stopped if it never does). */
export async function startServiceProcess(
  spec: ServiceProcessSpec,
  options: Pick<StartSystemOptions, 'logDir' | 'cpus'>,
): Promise<{ child: Child; url: string }> {
  const listen = spec.port ?? (await freePort())
  const url = `http://127.0.0.1:${listen}`
  const child = startChild({
    name: spec.name,
    command: process.execPath,
    args: [join(spec.serviceDir, 'src', spec.entry)],
    // The instance id ends like …bench-<pid>, so the sampler's pg_stat_activity pattern counts
    // these connections as this run's.
    env: {
      HOST: '127.0.0.1',
      PORT: String(listen),
      ...spec.env,
      INSTANCE_ID: `${spec.name}-bench-${process.pid}`,
    },
    cwd: spec.repoRoot,
    logFile: join(options.logDir, `${spec.name}.log`),
    ...(options.cpus ? { cpus: options.cpus } : {}),
  })
  try {
    await waitForHttp(`${url}/readyz`, { child, timeoutMs: spec.startTimeoutMs ?? 60_000 })
  } catch (err) {
    await stopChild(child)
    throw err
  }
  return { child, url }
}

export interface WithSystemSpec<S extends { baseUrl: string; stop(): Promise<void> }> {
  system: string
  defaultPort: number
  start(options: StartSystemOptions, extraEnv: Record<string, string>): Promise<S>
  /** Runs while the command does (a progress line on stderr); returns its stop. */
  watch?: (system: S) => () => void
}

/**
 * `with-system.ts [--port N] [--env NAME=VALUE]… [--logs DIR] -- <command> [args…]`: starts the
 * system of its own, runs the command with BASE_URL set to its API, stops the system (also on
 * Ctrl-C) and exits with the command's code.
 */
export async function runWithSystem<S extends { baseUrl: string; stop(): Promise<void> }>(
  spec: WithSystemSpec<S>,
  argv: readonly string[] = process.argv,
): Promise<never> {
  const split = argv.indexOf('--')
  if (split < 0 || split === argv.length - 1) {
    process.stderr.write(
      'usage: with-system.ts [--port N] [--env NAME=VALUE]… [--logs DIR] -- <command> [args…]\n',
    )
    process.exit(2)
  }
  const { values } = parseArgs({
    args: argv.slice(2, split),
    options: {
      port: { type: 'string', default: String(spec.defaultPort) },
      env: { type: 'string', multiple: true, default: [] },
      logs: { type: 'string' },
    },
  })
  const extraEnv = envPairs((message) => {
    process.stderr.write(`${message}\n`)
    return process.exit(2)
  }, values.env as string[])
  const [command, ...args] = argv.slice(split + 1) as [string, ...string[]]
  const logDir = values.logs ?? resultsDir(spec.system, 'with-system')
  const sys = await spec.start({ port: Number(values.port), logDir, env: { LOG_LEVEL: 'warn' } }, extraEnv)
  process.stderr.write(`${spec.system} up at ${sys.baseUrl} (logs in ${logDir}); running ${command}\n`)
  // Interrupted (Ctrl-C, a timeout): the system is stopped all the same.
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void sys.stop().finally(() => process.exit(130)))
  const stopWatch = spec.watch?.(sys)
  let code = 1
  try {
    code = await new Promise<number>((resolve) => {
      const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, BASE_URL: sys.baseUrl } })
      child.once('exit', (c) => resolve(c ?? 1))
      child.once('error', (err) => {
        process.stderr.write(`${command}: ${err.message}\n`)
        resolve(1)
      })
    })
  } finally {
    stopWatch?.()
    await sys.stop()
  }
  process.exit(code)
}
