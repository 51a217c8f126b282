/**
 * A command as a fault: a migration tool or a CLI of the system, run with the env its services get.
 */
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { repoRoot } from '../paths.ts'
import type { Action, FaultContext } from './action.ts'

export interface CommandOptions {
  /** Extra env; a function sees the mode (e.g. a migration flag only in hardened). */
  env?: Record<string, string> | ((ctx: FaultContext) => Record<string, string>)
  /** Working directory relative to the repo root. Default the repo root. */
  cwd?: string
  /** Kill it after this long. Default 120. */
  timeoutS?: number
}

/**
 * Run a command (a migration tool, a CLI of the system) with the env services get: the infra
 * URLs, `LAB_MODE`, `MITIGATIONS` and `MITIGATION_<NAME>`. It runs in the background like `sql`;
 * a non-zero exit fails the action with the output's last lines.
 */
export function command(
  file: string,
  args: string[] | ((ctx: FaultContext) => string[]),
  options: CommandOptions = {},
): Action {
  const shown = typeof args === 'function' ? `${file} …` : [file, ...args].join(' ')
  return {
    kind: 'command',
    describe: `run ${shown.length > 60 ? `${shown.slice(0, 59)}…` : shown}`,
    async run(ctx) {
      const extra = typeof options.env === 'function' ? options.env(ctx) : (options.env ?? {})
      const env: Record<string, string> = {
        ...(process.env as Record<string, string>),
        ...ctx.infra.serviceEnv(),
        LAB_MODE: ctx.mode,
        MITIGATIONS: JSON.stringify(ctx.mitigations),
        ...extra,
        // One `MITIGATION_<NAME>` per switch, named by the system's manifest, as every instance gets.
        ...ctx.fleet.switchEnv(),
      }
      const argv = typeof args === 'function' ? args(ctx) : args
      const executable = file === 'node' ? process.execPath : file
      const began = Date.now()
      return new Promise((done, fail) => {
        const child = spawn(executable, argv, {
          cwd: resolve(repoRoot, options.cwd ?? '.'),
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: (options.timeoutS ?? 120) * 1000,
        })
        let output = ''
        const keep = (chunk: Buffer) => {
          output = (output + chunk.toString()).slice(-4000)
        }
        child.stdout.on('data', keep)
        child.stderr.on('data', keep)
        const abort = () => child.kill('SIGTERM')
        ctx.signal.addEventListener('abort', abort, { once: true })
        child.on('error', (err) => fail(err))
        child.on('close', (code, sig) => {
          ctx.signal.removeEventListener('abort', abort)
          const last = output.trim().split('\n').slice(-3).join(' / ')
          const took = `${((Date.now() - began) / 1000).toFixed(2)} s`
          if (code === 0) done({ note: `exit 0 in ${took}${last ? `: ${last.slice(0, 200)}` : ''}` })
          else fail(new Error(`${shown} exited with ${code ?? sig} after ${took}: ${last.slice(0, 300)}`))
        })
      })
    },
  }
}
