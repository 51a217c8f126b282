/**
 * The shape of an experiment: one small declarative module under `chaos/<system>/`, named with
 * its catalog id (`chaos/shortener/pm10-hot-key-stampede.ts`), whose default export is
 * `defineExperiment({...})`. The lab runs it twice — naive (every mitigation of the experiment
 * off) and hardened (on) — and checks its invariants after each run.
 */
import type { HookContext, SettleContext } from './context.ts'
import type { Action } from './faults/action.ts'
import type { Invariant } from './invariants.ts'
import { isSystemDescriptor, type SystemDescriptor } from './system.ts'

export type { HookContext, LabContext, SettleContext } from './context.ts'

export type Mode = 'naive' | 'hardened'
export const modes: readonly Mode[] = ['naive', 'hardened']

/**
 * How an experiment runs one of its system's services: the entry, role and endpoints come from
 * the system (`defineSystem`); the experiment says how many instances and any extra env.
 */
export interface ServiceSpec {
  /** How many processes to start, each on its own loopback port. Default 1. */
  instances?: number
  /** Extra env for this service (on top of `serviceEnv()` and the experiment's `env`). */
  env?: Record<string, string>
  /** How long to wait for health; default the system's (30 s). */
  startTimeoutS?: number
}

export interface LoadSpec {
  /** k6 script, relative to the repo root (e.g. `loadtests/shortener/hot-key.js`). */
  script: string
  /**
   * How long the load runs. The lab passes it to the script as `DURATION` (`"30s"`) and
   * `DURATION_S`; the script must honour it (the chart's time axis and the progress use it).
   */
  durationS: number
  /** Script env (`__ENV`), e.g. `{ RATE: '400' }`. */
  env?: Record<string, string>
  /** The service whose instances are the targets (`BASE_URL`, `BASE_URLS`). Default `api`. */
  target?: string
  /**
   * Put the lab's load balancer in front of the target instances: it routes only to instances
   * whose readiness endpoint answers 200 and answers 503 itself when none does (pm03). Without
   * it k6 spreads the load over every instance, ready or not. `BASE_URL` is then the balancer.
   */
  balancer?: boolean
}

/**
 * One fault on the timeline, in seconds from the start of the load.
 * - `at` only: the action fires once; if it returns a heal (a kill, a toxic …), that heal runs
 *   when the load ends — healing always happens.
 * - `at` + `until`: the fault is active in [at, until) and healed at `until`.
 * - `every` (needs `until`): the action fires at at, at+every, … before `until`; with `hold`,
 *   each firing is healed `hold` seconds later (e.g. SIGSTOP a consumer for 5 s every 20 s).
 */
export interface Fault {
  at: number
  until?: number
  every?: number
  hold?: number
  action: Action
  /** Shown on the chart and in the report; defaults to the action's description. */
  label?: string
}

export interface CatalogRow {
  id: string
  incident: string
  mechanism: string
  systems?: string
  fault?: string
  invariant?: string
  mitigation?: string
}

export interface CiOverrides {
  /** The description when the short variant's numbers (rate, timing) differ from the full one's. */
  description?: string
  load?: Partial<LoadSpec>
  timeline?: Fault[]
  settleS?: number
  services?: Record<string, Partial<ServiceSpec>>
  env?: Record<string, string>
}

export interface ExperimentSpec {
  /** Catalog id, `pmNN`. */
  id: string
  /** kebab-case, e.g. `hot-key-stampede`; the module is `chaos/<system>/<id>-<slug>.ts`. */
  slug: string
  /** The system under test: the default export of `services/<system>/src/system.ts`. */
  system: SystemDescriptor
  title: string
  /**
   * The catalog row. Fields left out are read from the failure-mode catalog by `id`
   * (`docs/postmortems.md`, or `$FAULTLINE_CATALOG`), so a module may give none.
   */
  catalog?: Partial<Omit<CatalogRow, 'id'>>
  /** What a reader should expect to see, in one or two sentences (goes into the report). */
  description?: string
  services: Record<string, ServiceSpec>
  /** Env for every service process. */
  env?: Record<string, string>
  /**
   * The switches this experiment is about (names from the system's manifest), each `true`:
   * hardened turns them on, naive off. Switches not listed keep the service's defaults.
   */
  mitigations: Record<string, boolean>
  /** Clean state before each mode's services start (truncate tables, drop keys …). */
  reset?: (ctx: HookContext) => Promise<void>
  /** Seed data once the services are healthy and the mitigations applied. */
  setup?: (ctx: HookContext) => Promise<void>
  load: LoadSpec
  timeline: Fault[]
  /**
   * Seconds to wait after the load before the final scrape and the invariants (consumers drain).
   * With `settleUntil`, the most to wait: the condition is polled every second until true.
   */
  settleS?: number
  /** Stop settling early once this returns true (e.g. the click consumer has caught up). */
  settleUntil?: (ctx: SettleContext) => Promise<boolean>
  invariants: Invariant[]
  /** Infra components the experiment needs; default every component. */
  infra?: string[]
  /** The short variant used by the automated test (`--ci`): replaces load fields, timeline … */
  ci?: CiOverrides
}

export interface Experiment extends ExperimentSpec {
  /** `<system>/<id>-<slug>`, the name `lab run` takes. */
  name: string
  variant: 'full' | 'ci'
}

const idPattern = /^pm\d{2,}$/
const slugPattern = /^[a-z0-9]+(-[a-z0-9]+)*$/

/** Every problem with a spec, so a broken module reports them all at once. */
export function validateExperiment(spec: ExperimentSpec): string[] {
  const problems: string[] = []
  if (!idPattern.test(spec.id)) problems.push(`id "${spec.id}" must look like pm10`)
  if (!slugPattern.test(spec.slug)) problems.push(`slug "${spec.slug}" must be kebab-case`)
  problems.push(...validateSystemUse(spec))
  if (!spec.title) problems.push('title is empty')
  const serviceNames = Object.keys(spec.services)
  if (serviceNames.length === 0) problems.push('services is empty: at least one process to run')
  for (const [name, svc] of Object.entries(spec.services)) {
    if ((svc.instances ?? 1) < 1) problems.push(`services.${name}.instances must be ≥ 1`)
    if (isSystemDescriptor(spec.system) && !spec.system.services[name]) {
      problems.push(
        `services.${name} is not one of ${systemName(spec)}'s (${Object.keys(spec.system.services).join(', ')})`,
      )
    }
  }
  const target = spec.load.target ?? 'api'
  if (!spec.services[target]) problems.push(`load.target "${target}" is not one of the services`)
  if (!(spec.load.durationS > 0)) problems.push('load.durationS must be > 0')
  if (!spec.load.script) problems.push('load.script is empty')
  if (Object.keys(spec.mitigations).length === 0) {
    problems.push('mitigations is empty: naive and hardened would be the same run')
  }
  spec.timeline.forEach((fault, index) => {
    problems.push(...validateFault(fault, index, spec.load.durationS))
  })
  const names = new Set<string>()
  for (const inv of spec.invariants) {
    if (names.has(inv.name)) problems.push(`invariant "${inv.name}" is listed twice`)
    names.add(inv.name)
  }
  if (spec.invariants.length === 0) problems.push('invariants is empty: nothing to check')
  // Without an invariant that must fail naive, "reproduced" would only mean nothing broke.
  else if (spec.invariants.every((inv) => inv.expect === 'always'))
    problems.push(
      "every invariant is expect: 'always': at least one must fail naive (the incident's signature)",
    )
  return problems
}

/** The system is a descriptor, and every switch the experiment names is in its manifest and on. */
function validateSystemUse(spec: ExperimentSpec): string[] {
  if (!isSystemDescriptor(spec.system)) {
    return ['system must be a system descriptor (the default export of services/<system>/src/system.ts)']
  }
  const problems: string[] = []
  const { switches } = spec.system
  for (const [name, value] of Object.entries(spec.mitigations)) {
    if (!switches.has(name)) {
      problems.push(
        `mitigations.${name} is not a switch of ${spec.system.name} (${switches.names.join(', ')})`,
      )
    } else if (value !== true) {
      problems.push(`mitigations.${name} is ${String(value)}: hardened must turn it on (naive turns it off)`)
    }
  }
  return problems
}

/** The system's name, also for a spec whose `system` is not a descriptor (validation reports that). */
export function systemName(spec: Pick<ExperimentSpec, 'system'>): string {
  return isSystemDescriptor(spec.system) ? spec.system.name : String(spec.system)
}

function validateFault(fault: Fault, index: number, durationS: number): string[] {
  const where = `timeline[${index}] (${fault.label ?? fault.action?.describe ?? '?'})`
  const problems: string[] = []
  if (!fault.action || typeof fault.action.run !== 'function') problems.push(`${where}: action is missing`)
  if (!(fault.at >= 0)) problems.push(`${where}: at must be ≥ 0`)
  if (fault.at > durationS)
    problems.push(`${where}: at ${fault.at} s is after the load ends (${durationS} s)`)
  if (fault.until !== undefined && !(fault.until > fault.at)) problems.push(`${where}: until must be > at`)
  if (fault.every !== undefined) {
    if (!(fault.every > 0)) problems.push(`${where}: every must be > 0`)
    if (fault.until === undefined) problems.push(`${where}: every needs until`)
  }
  if (fault.hold !== undefined) {
    if (fault.every === undefined) problems.push(`${where}: hold only goes with every (use until)`)
    else if (!(fault.hold > 0 && fault.hold < fault.every))
      problems.push(`${where}: hold must be in (0, every)`)
  }
  return problems
}

export class ExperimentError extends Error {
  override name = 'ExperimentError'
}

/** Validate and name an experiment. The default export of every `chaos/<system>/pmNN-*.ts`. */
export function defineExperiment(spec: ExperimentSpec): Experiment {
  const problems = validateExperiment(spec)
  if (problems.length > 0) {
    throw new ExperimentError(
      `experiment ${systemName(spec)}/${spec.id}-${spec.slug} is invalid:\n  - ${problems.join('\n  - ')}`,
    )
  }
  return { ...spec, name: `${spec.system.name}/${spec.id}-${spec.slug}`, variant: 'full' }
}

/** The experiment as it runs: the full variant, or with its `ci` overrides applied. */
export function resolveVariant(exp: Experiment, ci: boolean): Experiment {
  if (!ci || exp.variant === 'ci') return exp
  const o = exp.ci ?? {}
  const services: Record<string, ServiceSpec> = {}
  for (const [name, svc] of Object.entries(exp.services)) services[name] = { ...svc, ...o.services?.[name] }
  const resolved: Experiment = {
    ...exp,
    variant: 'ci',
    description: o.description ?? exp.description,
    services,
    env: { ...exp.env, ...o.env },
    load: { ...exp.load, ...o.load, env: { ...exp.load.env, ...o.load?.env } },
    timeline: o.timeline ?? exp.timeline,
    settleS: o.settleS ?? exp.settleS,
  }
  const problems = validateExperiment(resolved)
  if (problems.length > 0) {
    throw new ExperimentError(`the ci variant of ${exp.name} is invalid:\n  - ${problems.join('\n  - ')}`)
  }
  return resolved
}

/** The switches of one mode: hardened as declared, naive all off. */
export function mitigationsFor(
  exp: Pick<ExperimentSpec, 'mitigations'>,
  mode: Mode,
): Record<string, boolean> {
  const out: Record<string, boolean> = {}
  for (const [name, value] of Object.entries(exp.mitigations)) out[name] = mode === 'hardened' ? value : false
  return out
}
