/**
 * Mitigation switches from one manifest. A system declares each switch once — its name, a
 * one-line meaning, its default and the catalog rows it defends against — and everything else is
 * derived from that declaration: the env parsing at boot, the typed live state business code
 * reads, the `GET/PUT /admin/mitigations` routes and their JSON schema, one gauge per switch, and
 * (in the lab) the env names and the validation of an experiment's switches. Before the manifest
 * each of those was written by hand per service, and the lab guessed the env names with its own
 * regex.
 */
import { ConfigError, type ConfigIssue } from '../config.ts'

export interface SwitchSpec {
  /** One line: what the switch does when on, e.g. "concurrent misses on one key share one read". */
  description: string
  /** The value without any env: the hardened service is every default on. */
  default: boolean
  /** Catalog rows (docs/postmortems.md) this switch defends against, e.g. `['pm10', 'pm02']`. */
  defends: readonly string[]
}

export interface SwitchManifest<N extends string = string> {
  /** In declaration order. */
  readonly names: readonly N[]
  readonly specs: Readonly<Record<N, SwitchSpec>>
  /** A fresh object of every default. */
  defaults(): Record<N, boolean>
  /** `singleFlight` → `MITIGATION_SINGLE_FLIGHT`: the one place env names come from. */
  envName(name: N): string
  /**
   * Lowest precedence first: the defaults, the JSON object `MITIGATIONS`
   * (`{"singleFlight":false}`), then `MITIGATION_<NAME>=true|false` per switch.
   * @throws ConfigError naming every bad variable at once (unknown switch, non-boolean, bad JSON,
   * a `MITIGATION_*` variable that is no switch of this manifest).
   */
  fromEnv(env: Record<string, string | undefined>): Record<N, boolean>
  has(name: string): name is N
}

/** The switch names of a manifest: `SwitchName<typeof switches>`. */
export type SwitchName<M> = M extends SwitchManifest<infer N> ? N : never
/** Every switch of a manifest with its value: `SwitchValues<typeof switches>`. */
export type SwitchValues<M> = Record<SwitchName<M>, boolean>

/** Names as written in TypeScript (`singleFlight`), so env names and JSON keys derive from them. */
const namePattern = /^[a-z][a-zA-Z0-9]*$/
/** Catalog ids: `pm` and two digits, the rows of docs/postmortems.md. */
const catalogIdPattern = /^pm\d{2}$/
const envPrefix = 'MITIGATION_'

/** `singleFlight` → `MITIGATION_SINGLE_FLIGHT`. */
function toEnvName(name: string): string {
  return `${envPrefix}${name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`
}

/**
 * Declares a system's switches. Checked at declaration time (a typo fails at import, not in an
 * experiment): names are camelCase identifiers with distinct env names, every switch says what it
 * does, and `defends` holds catalog ids.
 *
 * @example
 * export const switches = defineSwitches({
 *   singleFlight: { description: 'concurrent misses on one code share one Postgres read', default: true, defends: ['pm10'] },
 * })
 */
export function defineSwitches<const S extends Record<string, SwitchSpec>>(
  specs: S,
): SwitchManifest<Extract<keyof S, string>> {
  type N = Extract<keyof S, string>
  const names = Object.keys(specs) as N[]
  checkSpecs(specs)
  const envNames = new Map(names.map((name) => [name, toEnvName(name)]))
  const byEnvName = new Map(names.map((name) => [toEnvName(name), name]))
  const frozen = Object.freeze(
    Object.fromEntries(
      names.map((name) => {
        const spec = specs[name] as SwitchSpec
        return [name, Object.freeze({ ...spec, defends: Object.freeze([...spec.defends]) })]
      }),
    ),
  ) as Readonly<Record<N, SwitchSpec>>
  const has = (name: string): name is N => Object.hasOwn(frozen, name)
  const defaults = () =>
    Object.fromEntries(names.map((name) => [name, frozen[name].default])) as Record<N, boolean>

  return {
    names: Object.freeze([...names]),
    specs: frozen,
    defaults,
    envName: (name) => envNames.get(name) ?? toEnvName(name),
    has,
    fromEnv(env) {
      const values = defaults()
      const issues: ConfigIssue[] = []
      for (const [name, value] of readJsonSwitches(env.MITIGATIONS, issues)) {
        if (!has(name))
          issues.push({ name: 'MITIGATIONS', reason: `unknown switch "${name}" ${known(names)}` })
        else if (typeof value !== 'boolean')
          issues.push({ name: 'MITIGATIONS', reason: `${name} must be a boolean` })
        else values[name] = value
      }
      for (const [variable, raw] of Object.entries(env)) {
        if (!variable.startsWith(envPrefix) || raw === undefined || raw.trim() === '') continue
        const name = byEnvName.get(variable)
        if (name === undefined) {
          issues.push({ name: variable, reason: `is not a switch of this system ${known(names)}` })
          continue
        }
        const parsed = parseBoolean(raw)
        if (parsed === undefined) issues.push({ name: variable, reason: `"${raw}" is not a boolean` })
        else values[name] = parsed
      }
      if (issues.length > 0) throw new ConfigError(issues)
      return values
    },
  }
}

function checkSpecs(specs: Record<string, SwitchSpec>): void {
  const problems: string[] = []
  const seenEnvNames = new Map<string, string>()
  for (const [name, spec] of Object.entries(specs)) {
    if (!namePattern.test(name)) problems.push(`"${name}" must be a camelCase identifier`)
    if (typeof spec.description !== 'string' || spec.description.trim() === '')
      problems.push(`${name}: description is empty`)
    if (typeof spec.default !== 'boolean') problems.push(`${name}: default must be a boolean`)
    if (!Array.isArray(spec.defends)) problems.push(`${name}: defends must be a list of catalog ids`)
    for (const id of spec.defends ?? []) {
      if (!catalogIdPattern.test(id)) problems.push(`${name}: defends "${id}", not a catalog id like pm10`)
    }
    const envName = toEnvName(name)
    const clash = seenEnvNames.get(envName)
    if (clash !== undefined) problems.push(`${name} and ${clash} both map to ${envName}`)
    seenEnvNames.set(envName, name)
  }
  if (problems.length > 0) throw new TypeError(`invalid switch manifest: ${problems.join('; ')}`)
}

function readJsonSwitches(json: string | undefined, issues: ConfigIssue[]): Array<[string, unknown]> {
  if (json === undefined || json.trim() === '') return []
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    issues.push({ name: 'MITIGATIONS', reason: 'is not valid JSON' })
    return []
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    issues.push({ name: 'MITIGATIONS', reason: 'must be a JSON object of booleans' })
    return []
  }
  return Object.entries(parsed)
}

function parseBoolean(raw: string): boolean | undefined {
  const value = raw.trim().toLowerCase()
  if (value === 'true' || value === '1' || value === 'on' || value === 'yes') return true
  if (value === 'false' || value === '0' || value === 'off' || value === 'no') return false
  return undefined
}

export const known = (names: readonly string[]) => `(known: ${names.join(', ')})`
