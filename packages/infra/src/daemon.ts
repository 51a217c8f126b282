import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Component, ComponentStatus, InfraContext } from './component.ts'
import { assertPortsFree, portListeners, shortCommand } from './ports.ts'
import {
  isAlive,
  readPidFile,
  runsExecutable,
  type SpawnSpec,
  spawnDetached,
  stopProcess,
  tailFile,
} from './process.ts'
import { waitUntil } from './wait.ts'

/** `<stateDir>/<name>/`: data, config, pidfile and log of one component. */
export function componentDir(ctx: InfraContext, name: string): string {
  return join(ctx.stateDir, name)
}

/**
 * A component that is one long-running process. The factory below turns it into a `Component` with
 * the shared behaviour: idempotent health-waited `up`, port-collision check, stale pidfile handling,
 * SIGTERM-then-SIGKILL `down` that verifies the ports are released, and `status`.
 */
export interface DaemonSpec {
  name: string
  dependsOn: string[]
  /** Every TCP port the process listens on: checked free before start and released after stop. */
  ports: number[]
  address: string
  /** Absolute path of the executable: tells our process from an unrelated one that reused the pid. */
  executable(ctx: InfraContext): string
  install(ctx: InfraContext): Promise<void>
  /** Pidfile the process writes itself (Postgres' postmaster.pid); default `<dir>/<name>.pid`, written by us. */
  ownPidFile?(ctx: InfraContext): string
  /** Runs before each start (never while running): create data dirs, write config files. */
  prepare?(ctx: InfraContext): Promise<void>
  command(ctx: InfraContext): Omit<SpawnSpec, 'logFile'>
  /** Bounded (a couple of seconds at most): does the component really answer? */
  healthy(ctx: InfraContext): Promise<boolean>
  /** Idempotent work on every `up` once healthy (roles, proxies). */
  afterHealthy?(ctx: InfraContext): Promise<void>
  /** For `status`: is what `afterHealthy` sets up still there? (`up` repairs it.) */
  configured?(ctx: InfraContext): Promise<boolean>
  /** Extra status text when healthy (e.g. replication state). */
  detail?(ctx: InfraContext): Promise<string | undefined>
  /** Default SIGTERM. */
  stopSignal?: NodeJS.Signals
  startTimeoutMs?: number
  stopTimeoutMs?: number
}

export function daemonComponent(spec: DaemonSpec): Component {
  const dir = (ctx: InfraContext) => componentDir(ctx, spec.name)
  const logFile = (ctx: InfraContext) => join(dir(ctx), `${spec.name}.log`)
  const pidFile = (ctx: InfraContext) => spec.ownPidFile?.(ctx) ?? join(dir(ctx), `${spec.name}.pid`)

  /** Our live process, or undefined (missing, dead or reused pid). */
  const ourPid = (ctx: InfraContext): number | undefined => {
    const pid = readPidFile(pidFile(ctx))
    return pid !== undefined && runsExecutable(pid, spec.executable(ctx)) ? pid : undefined
  }

  const removeStalePidFile = (ctx: InfraContext) => {
    if (readPidFile(pidFile(ctx)) === undefined) return
    ctx.log(`${spec.name}: removing stale pidfile ${pidFile(ctx)}`)
    rmSync(pidFile(ctx), { force: true })
  }

  const exitedMessage = (ctx: InfraContext) =>
    `the process exited; last lines of ${logFile(ctx)}:\n${tailFile(logFile(ctx), 25)}`

  return {
    name: spec.name,
    dependsOn: spec.dependsOn,
    install: (ctx) => spec.install(ctx),
    logFile,

    async up(ctx) {
      mkdirSync(dir(ctx), { recursive: true })
      const timeoutMs = spec.startTimeoutMs ?? 30_000
      const running = ourPid(ctx)
      if (running !== undefined) {
        if (await spec.healthy(ctx)) {
          await spec.afterHealthy?.(ctx)
          ctx.log(`${spec.name}: already healthy (pid ${running}, ${spec.address})`)
          return
        }
        ctx.log(`${spec.name}: running (pid ${running}) but not answering yet; waiting…`)
        await waitUntil(spec.name, () => spec.healthy(ctx), {
          timeoutMs,
          abortIf: () => (isAlive(running) ? undefined : exitedMessage(ctx)),
        })
        await spec.afterHealthy?.(ctx)
        return
      }
      removeStalePidFile(ctx)
      assertPortsFree(spec.name, spec.ports)
      await spec.prepare?.(ctx)
      const started = Date.now()
      ctx.log(`${spec.name}: starting on ${spec.address}…`)
      const pid = spawnDetached({ ...spec.command(ctx), logFile: logFile(ctx) })
      if (spec.ownPidFile === undefined) writeFileSync(pidFile(ctx), `${pid}\n`)
      await waitUntil(spec.name, () => spec.healthy(ctx), {
        timeoutMs,
        abortIf: () => (isAlive(pid) ? undefined : exitedMessage(ctx)),
      }).catch((err: Error) => {
        throw new Error(`${err.message}\n(see ${logFile(ctx)}; \`infra down ${spec.name}\` stops it)`)
      })
      await spec.afterHealthy?.(ctx)
      ctx.log(`${spec.name}: healthy (pid ${pid}) in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    },

    async down(ctx) {
      const pid = ourPid(ctx)
      if (pid === undefined) {
        removeStalePidFile(ctx)
        ctx.log(`${spec.name}: not running`)
        return
      }
      ctx.log(`${spec.name}: stopping (pid ${pid})…`)
      const how = await stopProcess(pid, spec.stopSignal ?? 'SIGTERM', spec.stopTimeoutMs ?? 15_000)
      if (spec.ownPidFile === undefined) rmSync(pidFile(ctx), { force: true })
      // Verify: nothing may be left listening on our ports (a forked helper, a second copy).
      const busy = () => spec.ports.filter((port) => portListeners(port).listening)
      await waitUntil(`${spec.name}: release ports`, async () => busy().length === 0, {
        timeoutMs: 5000,
      }).catch(() => {
        const report = busy()
          .map((port) => {
            const owners = portListeners(port).pids.map((p) => `pid ${p} (${shortCommand(p)})`)
            return `${port} by ${owners.join(', ') || 'an unknown process'}`
          })
          .join('; ')
        throw new Error(`${spec.name}: after stopping, ports are still in use: ${report}`)
      })
      ctx.log(`${spec.name}: stopped${how === 'killed' ? ' (SIGKILL after the deadline)' : ''}`)
    },

    async status(ctx): Promise<ComponentStatus> {
      const pid = ourPid(ctx)
      const base = { name: spec.name, address: spec.address }
      if (pid === undefined) {
        const foreign = spec.ports.find((port) => portListeners(port).listening)
        const detail = foreign === undefined ? undefined : `port ${foreign} is used by another process`
        return { ...base, running: false, healthy: false, detail }
      }
      const healthy = (await spec.healthy(ctx)) && ((await spec.configured?.(ctx).catch(() => false)) ?? true)
      const detail =
        (await spec.detail?.(ctx).catch(() => undefined)) ?? (healthy ? undefined : 'not answering')
      return { ...base, running: true, healthy, pid, detail }
    },
  }
}
