/**
 * The infrastructure under the system: started (native processes through `@faultline/infra`, or
 * docker compose), and controlled by fault actions — signals to a component's process, stop,
 * start, restart. With `external` infra the lab only uses the URLs in the environment and the
 * process-level actions are unavailable.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import {
  defaultContext,
  directEnv,
  infraDown,
  infraStatus,
  infraUp,
  ports,
  serviceEnv,
} from '@faultline/infra'

export type InfraMode = 'native' | 'compose' | 'external'

export const infraModes: readonly InfraMode[] = ['native', 'compose', 'external']

/** `--infra`, else `FAULTLINE_INFRA`, else native. */
export function infraModeFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): InfraMode {
  const value = flag ?? env.FAULTLINE_INFRA ?? 'native'
  if (!(infraModes as readonly string[]).includes(value)) {
    throw new Error(`infra mode "${value}" is not one of ${infraModes.join(', ')}`)
  }
  return value as InfraMode
}

/** Names of the native components (they double as compose service names). */
export type ComponentName =
  | 'toxiproxy'
  | 'postgres'
  | 'postgres-replica'
  | 'redis-cache'
  | 'redis-queue'
  | 'kafka'
  | 's3'

export interface InfraControl {
  mode: InfraMode
  /** Start what is missing (idempotent). */
  ensure(components?: string[]): Promise<void>
  signal(component: string, signal: NodeJS.Signals): Promise<number | undefined>
  stop(component: string): Promise<void>
  start(component: string): Promise<void>
  /** The URLs services get (through Toxiproxy). */
  serviceEnv(): Record<string, string>
  /** Direct URLs for the lab's own clients (checks must not go through the faults). */
  directEnv(): Record<string, string>
  toxiproxyUrl(): string
}

const urlKeys = [
  'DATABASE_URL',
  'DATABASE_REPLICA_URL',
  'REDIS_URL',
  'QUEUE_REDIS_URL',
  'KAFKA_BROKERS',
  'REDIS_CLUSTER_NODES',
  'S3_ENDPOINT',
]

function run(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, timeout: 300_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(' ')} failed: ${stderr.trim() || err.message}`))
      else resolve(stdout)
    })
  })
}

export function nativeInfra(log: (message: string) => void): InfraControl {
  const ctx = () => defaultContext({ log: (message: string) => log(`[infra] ${message}`) })
  return {
    mode: 'native',
    async ensure(components = []) {
      const statuses = await infraStatus(components, ctx())
      if (statuses.every((s) => s.healthy)) return
      const down = statuses.filter((s) => !s.healthy).map((s) => s.name)
      log(`infra: starting ${down.join(', ')}`)
      await infraUp(components, ctx())
    },
    async signal(component, signal) {
      const [status] = await infraStatus([component], ctx())
      if (!status?.pid)
        throw new Error(`${component} has no running process to signal (${status?.detail ?? 'stopped'})`)
      process.kill(status.pid, signal)
      return status.pid
    },
    stop: (component) => infraDown([component], ctx()),
    start: (component) => infraUp([component], ctx()),
    serviceEnv: () => serviceEnv(),
    directEnv: () => directEnv(),
    toxiproxyUrl: () => `http://127.0.0.1:${ports.toxiproxyApi}`,
  }
}

/**
 * Docker compose (`docker-compose.yml` at the repo root, service names = component names).
 * SIGSTOP/SIGCONT map to pause/unpause, since a container's init may not pass them on.
 */
export function composeInfra(repoRoot: string, log: (message: string) => void): InfraControl {
  const compose = (...args: string[]) =>
    run('docker', ['compose', '-f', join(repoRoot, 'docker-compose.yml'), ...args], repoRoot)
  return {
    mode: 'compose',
    async ensure(components = []) {
      log('infra: docker compose up --wait')
      await compose('up', '-d', '--wait', ...components)
    },
    async signal(component, signal) {
      if (signal === 'SIGSTOP') await compose('pause', component)
      else if (signal === 'SIGCONT') await compose('unpause', component)
      else await compose('kill', '-s', signal, component)
      return undefined
    },
    stop: async (component) => {
      await compose('stop', component)
    },
    start: async (component) => {
      await compose('up', '-d', '--wait', component)
    },
    serviceEnv: () => serviceEnv(),
    directEnv: () => directEnv(),
    toxiproxyUrl: () => `http://127.0.0.1:${ports.toxiproxyApi}`,
  }
}

/** Infra someone else runs: URLs come from the environment; no process control. */
export function externalInfra(env: NodeJS.ProcessEnv = process.env): InfraControl {
  const fromEnv = (defaults: Record<string, string>) => {
    const out = { ...defaults }
    for (const key of urlKeys) if (env[key]) out[key] = env[key] as string
    return out
  }
  const unavailable = (what: string) => () =>
    Promise.reject(
      new Error(
        `${what} needs the native or compose infra (FAULTLINE_INFRA=external has no process control)`,
      ),
    )
  return {
    mode: 'external',
    ensure: async () => {},
    signal: unavailable('signalling an infra component'),
    stop: unavailable('stopping an infra component'),
    start: unavailable('starting an infra component'),
    serviceEnv: () => fromEnv(serviceEnv()),
    // The environment's URLs may go through Toxiproxy; LAB_* overrides give the checker a direct path.
    directEnv: () => {
      const out = fromEnv(directEnv())
      for (const key of urlKeys) if (env[`LAB_${key}`]) out[key] = env[`LAB_${key}`] as string
      return out
    },
    toxiproxyUrl: () => env.TOXIPROXY_URL ?? `http://127.0.0.1:${ports.toxiproxyApi}`,
  }
}

export function infraControl(
  mode: InfraMode,
  repoRoot: string,
  log: (message: string) => void,
): InfraControl {
  if (mode === 'native') return nativeInfra(log)
  if (mode === 'compose') return composeInfra(repoRoot, log)
  return externalInfra()
}
