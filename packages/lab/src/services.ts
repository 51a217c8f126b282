/**
 * The system under test as child processes: N instances per service, each on its own loopback
 * port (every process serves /healthz, /readyz, /metrics and /admin/mitigations there, workers
 * too) and with its own log file. Fresh processes for every mode, so naive and
 * hardened never share in-process state (caches, pools, single-flight maps).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '@faultline/infra'
import type { Mode, ServiceSpec } from './experiment.ts'
import { httpGet } from './metrics-scrape.ts'
import type { ServiceRole, SystemDescriptor, SystemSwitches } from './system.ts'

export interface ServiceInstance {
  /** `api-0`, `worker-1` … */
  name: string
  service: string
  index: number
  pid: number | undefined
  /** Loopback port: every process serves /healthz, /readyz, /metrics and its switches on it. */
  port: number
  /** `http://127.0.0.1:<port>`. */
  url: string
  logFile: string
  /** Whether the process is running as far as the lab knows (false after a kill, until restarted). */
  alive: boolean
}

export interface ResolvedService {
  name: string
  entry: string
  role: ServiceRole
  instances: number
  env: Record<string, string>
  healthPath: string
  readyPath: string | null
  metricsPath: string | null
  mitigationsPath: string | null
  startTimeoutS: number
}

/** A service of the system with the experiment's count and env, defaults filled in. */
export function resolveService(system: SystemDescriptor, name: string, spec: ServiceSpec): ResolvedService {
  const declared = system.services[name]
  if (!declared) {
    throw new Error(
      `service "${name}" is not one of ${system.name}'s (${Object.keys(system.services).join(', ')})`,
    )
  }
  return {
    name,
    entry: declared.entry,
    role: declared.role,
    instances: spec.instances ?? 1,
    env: { ...declared.env, ...spec.env },
    healthPath: declared.healthPath ?? '/healthz',
    readyPath: declared.readyPath === undefined ? '/readyz' : declared.readyPath,
    metricsPath: declared.metricsPath === undefined ? '/metrics' : declared.metricsPath,
    mitigationsPath: declared.mitigationsPath === undefined ? '/admin/mitigations' : declared.mitigationsPath,
    startTimeoutS: spec.startTimeoutS ?? declared.startTimeoutS ?? 30,
  }
}

/** One `MITIGATION_<NAME>=true|false` per switch, named by the system's manifest. */
export function switchEnv(
  switches: SystemSwitches,
  mitigations: Record<string, boolean>,
): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [name, on] of Object.entries(mitigations)) env[switches.envName(name)] = String(on)
  return env
}

/**
 * The env every instance gets, lowest precedence first: the infra URLs, the experiment's and the
 * service's env, then what the lab owns (port, instance id, the mode's switches both as one JSON
 * `MITIGATIONS` and as one `MITIGATION_<NAME>=true|false` each).
 */
export function instanceEnv(args: {
  base: Record<string, string>
  experimentEnv?: Record<string, string>
  service: ResolvedService
  switches: SystemSwitches
  instance: string
  port: number
  mode: Mode
  mitigations: Record<string, boolean>
}): Record<string, string> {
  return {
    ...args.base,
    ...args.experimentEnv,
    ...args.service.env,
    PORT: String(args.port),
    HOST: '127.0.0.1',
    INSTANCE_ID: args.instance,
    SERVICE_NAME: args.service.name,
    LAB_MODE: args.mode,
    MITIGATIONS: JSON.stringify(args.mitigations),
    ...switchEnv(args.switches, args.mitigations),
  }
}

/** The package folder of an entry file: the process's cwd, as in its container. */
export function packageDir(file: string, root: string): string {
  for (let dir = dirname(file); dir.startsWith(root) && dir !== root; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir
  }
  return root
}

export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

export interface FleetOptions {
  repoRoot: string
  system: SystemDescriptor
  /** Which of the system's services to run, and how many instances of each. */
  services: Record<string, ServiceSpec>
  mode: Mode
  mitigations: Record<string, boolean>
  /** Infra URLs (serviceEnv(), or the environment's with external infra). */
  baseEnv: Record<string, string>
  experimentEnv?: Record<string, string>
  logDir: string
  log: (message: string) => void
  /** Runs after an instance is healthy, at start and after every restart (applies the mitigations). */
  afterStart?: (instance: ServiceInstance, service: ResolvedService) => Promise<void>
}

interface Slot {
  instance: ServiceInstance
  service: ResolvedService
  env: Record<string, string>
  child?: ChildProcess
  exited?: Promise<void>
}

/** Starts, signals, restarts and stops the instances of one mode's run. */
export class ServiceFleet {
  readonly services: ResolvedService[]
  private readonly slots: Slot[] = []
  private readonly options: FleetOptions

  constructor(options: FleetOptions) {
    this.options = options
    this.services = Object.entries(options.services).map(([name, spec]) =>
      resolveService(options.system, name, spec),
    )
  }

  get instances(): ServiceInstance[] {
    return this.slots.map((s) => s.instance)
  }

  /** The instances of one service (the load's targets), or every instance. */
  instancesOf(service?: string): ServiceInstance[] {
    return this.instances.filter((i) => service === undefined || i.service === service)
  }

  /** The switch env of this mode (`MITIGATION_<NAME>`), for a command run beside the services. */
  switchEnv(): Record<string, string> {
    return switchEnv(this.options.system.switches, this.options.mitigations)
  }

  instance(service: string, index = 0): ServiceInstance {
    const found = this.instances.find((i) => i.service === service && i.index === index)
    if (!found) throw new Error(`no instance ${service}-${index} (services: ${this.describe()})`)
    return found
  }

  serviceOf(instance: ServiceInstance): ResolvedService {
    const svc = this.services.find((s) => s.name === instance.service)
    if (!svc) throw new Error(`unknown service ${instance.service}`)
    return svc
  }

  describe(): string {
    return this.services.map((s) => `${s.name}×${s.instances}`).join(', ')
  }

  /** Start every instance (HTTP ones first, in parallel) and wait until each is up. */
  async start(): Promise<void> {
    for (const service of this.services) {
      const entry = resolve(this.options.repoRoot, service.entry)
      if (!existsSync(entry))
        throw new Error(`service ${service.name}: entry ${service.entry} does not exist`)
      for (let index = 0; index < service.instances; index++) {
        const name = `${service.name}-${index}`
        const port = await freePort()
        const instance: ServiceInstance = {
          name,
          service: service.name,
          index,
          pid: undefined,
          port,
          url: `http://127.0.0.1:${port}`,
          logFile: join(this.options.logDir, `${name}.log`),
          alive: false,
        }
        const env = instanceEnv({
          base: this.options.baseEnv,
          experimentEnv: this.options.experimentEnv,
          service,
          switches: this.options.system.switches,
          instance: name,
          port,
          mode: this.options.mode,
          mitigations: this.options.mitigations,
        })
        this.slots.push({ instance, service, env })
      }
    }
    await Promise.all(this.slots.map((slot) => this.launch(slot)))
  }

  private async launch(slot: Slot): Promise<void> {
    const { instance, service } = slot
    const entry = resolve(this.options.repoRoot, service.entry)
    const fd = openSync(instance.logFile, 'a')
    writeSync(
      fd,
      `\n=== ${new Date().toISOString()} lab: start ${instance.name} (${service.entry}) port=${instance.port}\n`,
    )
    let child: ChildProcess
    try {
      child = spawn(process.execPath, [entry], {
        cwd: packageDir(entry, this.options.repoRoot),
        env: { ...process.env, ...slot.env },
        stdio: ['ignore', fd, fd],
      })
    } finally {
      closeSync(fd)
    }
    slot.child = child
    instance.pid = child.pid
    instance.alive = true
    slot.exited = new Promise((done) => {
      child.on('exit', () => {
        if (slot.child === child) instance.alive = false
        done()
      })
      child.on('error', () => done())
    })
    await this.waitUp(slot, child)
    await this.options.afterStart?.(instance, service)
  }

  private async waitUp(slot: Slot, child: ChildProcess): Promise<void> {
    const { instance, service } = slot
    const deadline = Date.now() + service.startTimeoutS * 1000
    const exitedEarly = () => child.exitCode !== null || child.signalCode !== null
    let last = ''
    while (Date.now() < deadline) {
      if (exitedEarly()) throw this.bootError(slot, `exited with ${child.exitCode ?? child.signalCode}`)
      const res = await httpGet(instance.url + service.healthPath, 1000)
      if ('status' in res && res.status === 200) return
      last = 'status' in res ? `HTTP ${res.status}` : res.error
      await sleep(100)
    }
    throw this.bootError(
      slot,
      `no 200 from ${service.healthPath} within ${service.startTimeoutS} s (last: ${last})`,
    )
  }

  private bootError(slot: Slot, why: string): Error {
    return new Error(
      `${slot.instance.name} did not start: ${why}\n--- ${slot.instance.logFile}\n${tail(slot.instance.logFile)}`,
    )
  }

  private slot(instance: ServiceInstance): Slot {
    const slot = this.slots.find((s) => s.instance === instance)
    if (!slot) throw new Error(`unknown instance ${instance.name}`)
    return slot
  }

  /** Send a signal to an instance (SIGKILL, SIGSTOP, SIGCONT …). A process already gone is not an error. */
  signal(instance: ServiceInstance, signal: NodeJS.Signals): void {
    const { child } = this.slot(instance)
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    child.kill(signal)
  }

  /** Wait until the instance's process has exited (after a kill). */
  async waitExit(instance: ServiceInstance, timeoutMs = 10_000): Promise<boolean> {
    const { exited } = this.slot(instance)
    if (!exited) return true
    const timer = sleep(timeoutMs).then(() => false)
    return Promise.race([exited.then(() => true), timer])
  }

  /** `kill -9` an instance and wait until it is gone. */
  async kill(instance: ServiceInstance): Promise<void> {
    this.signal(instance, 'SIGKILL')
    await this.waitExit(instance)
  }

  /** SIGTERM an instance (SIGCONT first: a stopped process cannot handle it) and wait until it exits. */
  async stop(instance: ServiceInstance, graceMs = 5000): Promise<void> {
    this.signal(instance, 'SIGCONT')
    this.signal(instance, 'SIGTERM')
    if (!(await this.waitExit(instance, graceMs))) await this.kill(instance)
  }

  /** Start a stopped or killed instance again on the same port, and wait until it is up. */
  async restart(instance: ServiceInstance): Promise<void> {
    const slot = this.slot(instance)
    if (instance.alive && slot.child) {
      this.signal(instance, 'SIGCONT')
      this.signal(instance, 'SIGTERM')
      if (!(await this.waitExit(instance, 5000))) {
        this.signal(instance, 'SIGKILL')
        await this.waitExit(instance)
      }
    }
    await this.launch(slot)
  }

  /**
   * Stop everything: SIGCONT (a stopped process cannot handle SIGTERM), SIGTERM, then SIGKILL
   * whatever is still running after `graceMs`. Never throws.
   */
  async stopAll(graceMs = 5000): Promise<void> {
    const running = this.slots.filter(
      (s) => s.child && s.child.exitCode === null && s.child.signalCode === null,
    )
    for (const s of running) {
      s.child?.kill('SIGCONT')
      s.child?.kill('SIGTERM')
    }
    await Promise.all(
      running.map(async (s) => {
        if (!(await this.waitExit(s.instance, graceMs))) {
          s.child?.kill('SIGKILL')
          await this.waitExit(s.instance, 5000)
        }
      }),
    )
  }

  /** Synchronous last resort for process exit: SIGKILL every child still running. */
  killAllNow(): void {
    for (const s of this.slots) {
      if (s.child && s.child.exitCode === null && s.child.signalCode === null) {
        try {
          s.child.kill('SIGKILL')
        } catch {}
      }
    }
  }
}
