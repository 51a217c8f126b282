/**
 * The switches the chaos experiments flip. Business code reads them from one `Mitigations`
 * object (never from process.env), so `PUT /admin/mitigations` changes behaviour at run time
 * and a user can watch the effect while load runs. "Naive" is every switch of an experiment
 * off; the defaults here are the hardened service.
 */
export const mitigationNames = [
  /** pm10/pm02: concurrent cache misses on one code share one Postgres read. */
  'singleFlight',
  /** pm10/pm02: ±`CACHE_TTL_JITTER` on every cache TTL, so keys filled together do not expire together. */
  'ttlJitter',
  /** pm10: past its soft TTL an entry is still served while one background fill refreshes it. */
  'staleWhileRevalidate',
  /** Unknown codes are cached (short TTL) so a scan of random codes does not reach Postgres. */
  'negativeCache',
  /** pm02: a bulkhead on the Postgres fills of the miss path; excess misses get a fast 503. */
  'coldPathLimit',
  /** pm03: /readyz reflects this process only; off = it also checks Postgres (the naive probe). */
  'readinessIndependentOfDeps',
  /** pm04: click events wait in a bounded spool while Kafka is down; off = fire-and-forget send. */
  'clickSpool',
  /**
   * pm13: this process's migrations run with `lock_timeout` = MIGRATE_LOCK_TIMEOUT_MS and retry
   * with backoff; off = DDL waits for its lock forever and every query on the table queues behind it.
   */
  'migrationLockTimeout',
] as const

export type MitigationName = (typeof mitigationNames)[number]
export type Mitigations = Record<MitigationName, boolean>

export const defaultMitigations: Readonly<Mitigations> = Object.freeze({
  singleFlight: true,
  ttlJitter: true,
  staleWhileRevalidate: true,
  negativeCache: true,
  coldPathLimit: true,
  readinessIndependentOfDeps: true,
  clickSpool: true,
  migrationLockTimeout: true,
})

export function isMitigationName(name: string): name is MitigationName {
  return (mitigationNames as readonly string[]).includes(name)
}

/** `singleFlight` → `MITIGATION_SINGLE_FLIGHT` (the name the lab sets for each switch). */
export function mitigationEnvName(name: MitigationName): string {
  return `MITIGATION_${name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`
}

function parseBoolean(value: string, source: string): boolean {
  const v = value.trim().toLowerCase()
  if (v === 'true' || v === '1' || v === 'on' || v === 'yes') return true
  if (v === 'false' || v === '0' || v === 'off' || v === 'no') return false
  throw new TypeError(`${source}: "${value}" is not a boolean`)
}

/**
 * Switches from the environment, lowest precedence first: the defaults, the JSON object
 * `MITIGATIONS` (`{"singleFlight":false}`), then one `MITIGATION_<NAME>=true|false` per switch.
 * Unknown names and non-booleans are errors, reported all at once.
 */
export function mitigationsFromEnv(env: Record<string, string | undefined>): Mitigations {
  const out: Mitigations = { ...defaultMitigations }
  const problems: string[] = []
  const json = env.MITIGATIONS
  if (json !== undefined && json.trim() !== '') {
    try {
      const parsed: unknown = JSON.parse(json)
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        problems.push('MITIGATIONS must be a JSON object of booleans')
      } else {
        for (const [name, value] of Object.entries(parsed)) {
          if (!isMitigationName(name)) problems.push(`MITIGATIONS: unknown switch "${name}"`)
          else if (typeof value !== 'boolean') problems.push(`MITIGATIONS.${name} must be a boolean`)
          else out[name] = value
        }
      }
    } catch {
      problems.push('MITIGATIONS is not valid JSON')
    }
  }
  for (const name of mitigationNames) {
    const envName = mitigationEnvName(name)
    const value = env[envName]
    if (value === undefined || value === '') continue
    try {
      out[name] = parseBoolean(value, envName)
    } catch (err) {
      problems.push((err as Error).message)
    }
  }
  if (problems.length > 0) throw new TypeError(problems.join('; '))
  return out
}

/**
 * The live switches: one mutable object that every component reads at the moment it decides,
 * plus listeners for components that keep their own `enabled` flag (SingleFlight, Bulkhead).
 */
export class MitigationState {
  readonly current: Mitigations
  readonly #listeners: Array<(m: Readonly<Mitigations>) => void> = []

  constructor(initial: Mitigations) {
    this.current = { ...initial }
  }

  /** Applies a partial update; unknown names are refused before anything changes. */
  update(patch: Partial<Record<string, boolean>>): Readonly<Mitigations> {
    const unknown = Object.keys(patch).filter((name) => !isMitigationName(name))
    if (unknown.length > 0) throw new TypeError(`unknown mitigation(s): ${unknown.join(', ')}`)
    for (const [name, value] of Object.entries(patch)) {
      if (typeof value === 'boolean') this.current[name as MitigationName] = value
    }
    for (const listener of this.#listeners) listener(this.current)
    return this.current
  }

  /** Calls `listener` now and after every update. */
  subscribe(listener: (m: Readonly<Mitigations>) => void): void {
    this.#listeners.push(listener)
    listener(this.current)
  }

  snapshot(): Mitigations {
    return { ...this.current }
  }
}
