import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Component, InfraContext } from '../component.ts'
import { builtVersion, type GoBinary, goBinaryPath, goInstall } from '../go.ts'
import { defaultContext } from '../paths.ts'
import { run } from '../process.ts'

const name = 'k6'

/** `go.k6.io/k6/v2` is not on the module proxy; v1 is what `go install` can fetch. */
export const k6Module: GoBinary = {
  module: 'go.k6.io/k6',
  pkg: 'go.k6.io/k6',
  version: 'v1.8.1',
  builtName: 'k6',
  target: 'k6',
}

/** k6 never runs as a daemon: its "log" is the output of the last `go install`. */
const buildLog = (ctx: InfraContext) => join(ctx.stateDir, name, 'k6-build.log')

/** Where the k6 binary lives (`<cacheDir>/bin/k6`), installed or not. */
export function k6Path(ctx: InfraContext = defaultContext()): string {
  return goBinaryPath(ctx, k6Module)
}

/**
 * The k6 binary every runner starts (the lab's experiments, the bench): `$FAULTLINE_K6` when set
 * (a k6 you built yourself), else the one `infra up` installs at `k6Path()`, else `k6` on PATH.
 * It never builds: call `ensureK6()` first where a missing k6 should be built rather than fail.
 */
export function k6Binary(ctx: InfraContext = defaultContext(), env: NodeJS.ProcessEnv = process.env): string {
  if (env.FAULTLINE_K6) return env.FAULTLINE_K6
  const installed = k6Path(ctx)
  return existsSync(installed) ? installed : 'k6'
}

/** Build k6 if it is missing (minutes on a cold Go cache) and return its path: what the lab calls. */
export function ensureK6(ctx: InfraContext = defaultContext()): Promise<string> {
  return goInstall(ctx, name, k6Module, buildLog(ctx))
}

/** Not a process: `up` installs the load generator, `status` shows whether and which version. */
export const k6: Component = {
  name,
  dependsOn: [],
  install: async (ctx) => {
    await ensureK6(ctx)
  },
  up: async (ctx) => {
    ctx.log(`${name}: installed at ${await ensureK6(ctx)}`)
  },
  down: async () => {},
  logFile: buildLog,
  async status(ctx) {
    const path = k6Path(ctx)
    if (!existsSync(path))
      return { name, running: false, healthy: false, address: path, detail: 'not installed' }
    const version = await run(path, ['version'], { timeoutMs: 5000 })
    const installed = version.code === 0
    const detail = installed
      ? (version.stdout.split('\n')[0]?.trim() ?? '')
      : `broken binary (${(await builtVersion(path, k6Module.module)) ?? 'unknown version'})`
    return { name, running: installed, healthy: installed, address: path, detail }
  },
}
