/**
 * A system's processes as background daemons: the native twin of
 * `docker compose --profile <system> up`. Each process is an `@faultline/infra` daemon component
 * (the same idempotent, health-waited start, stale-pidfile handling and SIGTERM-then-SIGKILL stop
 * that Postgres and Kafka get), with its pidfile and log under `.faultline/systems/<system>/`.
 */
import { resolve } from 'node:path'
import { type Component, daemonComponent, type InfraContext, serviceEnv, systemPorts } from '@faultline/infra'
import { repoRoot } from '../paths.ts'
import { packageDir } from '../services.ts'
import type { ServiceRole, SystemDescriptor } from '../system.ts'

/** `<repo>/.faultline/systems/<system>`: one folder per process (pidfile + log). */
export function systemStateDir(system: string): string {
  return resolve(repoRoot, '.faultline', 'systems', system)
}

export interface SystemProcess {
  /** `api`, `worker` … (one instance each: `up` is for trying a system, the lab runs fleets). */
  service: string
  /** `http` serves users (the URL to try); a `worker` serves only its health, metrics and switches. */
  role: ServiceRole
  port: number
  url: string
  component: Component
}

/** The host port of a process: the one port table (`systemPorts` in `@faultline/infra`). */
export function portOf(system: string, service: string): number {
  const table = systemPorts as Record<string, Record<string, number> | undefined>
  const port = table[system]?.[service]
  if (port === undefined) {
    throw new Error(
      `no host port for ${system}/${service}: add it to systemPorts in packages/infra/src/topology.ts (and publish the same port in the system's compose file)`,
    )
  }
  return port
}

/**
 * The system's extra listeners: every `systemPorts` key that names no process (`grpc: 18091`)
 * becomes `<KEY>_PORT` (`GRPC_PORT=18091`) for each of its processes. The process that serves
 * that protocol reads the variable; the others never look at it.
 */
export function extraPortEnv(system: SystemDescriptor): Record<string, string> {
  const table = systemPorts as Record<string, Record<string, number> | undefined>
  const env: Record<string, string> = {}
  for (const [key, port] of Object.entries(table[system.name] ?? {})) {
    if (key in system.services) continue
    const envName = key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9]+/g, '_')
    env[`${envName.toUpperCase()}_PORT`] = String(port)
  }
  return env
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
    await res.body?.cancel()
    return res.ok
  } catch {
    return false
  }
}

/** One daemon per service of the system, in declaration order (start order). */
export function systemProcesses(system: SystemDescriptor): SystemProcess[] {
  const extraPorts = extraPortEnv(system)
  return Object.keys(system.services).map((service) => {
    const spec = system.services[service]
    if (!spec) throw new Error(`unknown service ${service}`)
    const port = portOf(system.name, service)
    const url = `http://127.0.0.1:${port}`
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...serviceEnv(),
      ...extraPorts,
      ...spec.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      INSTANCE_ID: `${service}-0`,
      SERVICE_NAME: service,
    }
    const component = daemonComponent({
      name: service,
      // No dependencies here: the infra's dependency order is not consulted for these daemons.
      // `up` starts them one at a time in declaration order, each after the previous is healthy,
      // so a worker starts once the API (which runs the migrations) answers.
      dependsOn: [],
      ports: [port],
      address: url,
      executable: () => process.execPath,
      install: async () => {},
      command: () => ({
        command: process.execPath,
        args: [resolve(repoRoot, spec.entry)],
        cwd: packageDir(resolve(repoRoot, spec.entry), repoRoot),
        env,
      }),
      healthy: () => answers(`${url}${spec.healthPath ?? '/healthz'}`),
      startTimeoutMs: 60_000,
      stopTimeoutMs: 20_000,
    })
    return { service, role: spec.role, port, url, component }
  })
}

export function systemContext(system: string, log: (message: string) => void): InfraContext {
  return { stateDir: systemStateDir(system), cacheDir: '', log: (message) => log(`${system}/${message}`) }
}
