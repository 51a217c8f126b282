/**
 * The system descriptor: what a system under test tells the lab about itself, once, in
 * `services/<system>/src/system.ts` (default export). Experiments import it (`system: shortener`)
 * and `./faultline up <system>` starts it, so a new system is its own folders plus this file —
 * nothing in `packages/lab` changes for it.
 *
 *   export default defineSystem({
 *     name: 'shortener',
 *     switches,                          // the kit manifest (`defineSwitches` in @faultline/kit)
 *     services: {
 *       api:    { entry: 'services/shortener/src/server.ts', role: 'http' },
 *       worker: { entry: 'services/shortener/src/worker.ts', role: 'worker' },
 *     },
 *     fixture,                           // keys, resets and seeding helpers for its experiments
 *   })
 */

/** One switch as the kit's manifest declares it. */
export interface SwitchSpec {
  description: string
  default: boolean
  /** Catalog ids it defends against, e.g. `['pm10', 'pm02']`. */
  defends: readonly string[]
}

/**
 * What the lab reads of a system's switch manifest (`defineSwitches` in `@faultline/kit`): the
 * names an experiment may turn off and on, and the env name a process reads each one from. The
 * shape is structural so the lab needs nothing from the kit to accept one.
 */
export interface SystemSwitches {
  readonly names: readonly string[]
  readonly specs: Readonly<Record<string, SwitchSpec>>
  defaults(): Record<string, boolean>
  /** `singleFlight` → `MITIGATION_SINGLE_FLIGHT`. */
  envName(name: string): string
  has(name: string): boolean
}

/**
 * `http`: serves user traffic (a load target); `worker`: consumes Kafka or runs queue processors.
 * Both serve `/healthz`, `/readyz`, `/metrics` and `/admin/mitigations` on `PORT`, so the lab
 * health-waits, switches and scrapes every process the same way.
 */
export type ServiceRole = 'http' | 'worker'

export interface SystemService {
  /** Entry file relative to the repo root, run with `node`. */
  entry: string
  role: ServiceRole
  /** Env the process always gets (under the lab, the experiment's env goes on top). */
  env?: Record<string, string>
  /** Default `/healthz`. The lab waits for a 200 before it applies mitigations and runs setup. */
  healthPath?: string
  /** Default `/readyz`; `null` turns readiness sampling off. */
  readyPath?: string | null
  /** Default `/metrics` (Prometheus text format); `null` turns scraping off. */
  metricsPath?: string | null
  /** Default `/admin/mitigations` (GET, partial PUT); `null` when the process reads env only. */
  mitigationsPath?: string | null
  /** How long a start may take before it is a boot failure. Default 30. */
  startTimeoutS?: number
}

export interface SystemSpec<F = unknown> {
  /** kebab-case; the folder under `services/`, `chaos/` and `loadtests/`. */
  name: string
  switches: SystemSwitches
  services: Record<string, SystemService>
  /** What the system's experiments import for its state: keys, resets, seeding helpers. */
  fixture?: F
}

export interface SystemDescriptor<F = unknown> extends SystemSpec<F> {
  readonly kind: 'faultline-system'
}

const namePattern = /^[a-z0-9]+(-[a-z0-9]+)*$/

export class SystemError extends Error {
  override name = 'SystemError'
}

/** Every problem with a system descriptor, so a broken one reports them all at once. */
export function validateSystem(spec: SystemSpec): string[] {
  const problems: string[] = []
  if (!namePattern.test(spec.name)) problems.push(`name "${spec.name}" must be kebab-case`)
  if (!spec.switches || typeof spec.switches.envName !== 'function' || !Array.isArray(spec.switches.names)) {
    problems.push('switches must be a switch manifest (defineSwitches from @faultline/kit/switches)')
  }
  const services = Object.entries(spec.services ?? {})
  if (services.length === 0) problems.push('services is empty: at least one process to run')
  for (const [name, svc] of services) {
    if (!namePattern.test(name)) problems.push(`service "${name}" must be kebab-case`)
    if (!svc.entry) problems.push(`services.${name}.entry is empty`)
    if (svc.role !== 'http' && svc.role !== 'worker')
      problems.push(`services.${name}.role must be http or worker`)
  }
  return problems
}

/** Validate a system descriptor. The default export of every `services/<system>/src/system.ts`. */
export function defineSystem<F = unknown>(spec: SystemSpec<F>): SystemDescriptor<F> {
  const problems = validateSystem(spec)
  if (problems.length > 0) {
    throw new SystemError(`system ${spec.name} is invalid:\n  - ${problems.join('\n  - ')}`)
  }
  return Object.freeze({ ...spec, kind: 'faultline-system' as const })
}

export function isSystemDescriptor(value: unknown): value is SystemDescriptor {
  return (
    typeof value === 'object' && value !== null && (value as SystemDescriptor).kind === 'faultline-system'
  )
}
