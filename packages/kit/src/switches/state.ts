import { defineError } from '../errors.ts'
import { known, type SwitchManifest } from './manifest.ts'

/** A switch update named an unknown switch or gave a non-boolean; nothing was changed. */
export const KitInvalidSwitchesError = defineError<[string]>('KIT_ERR_INVALID_SWITCHES', '%s', 400)

type SwitchListener<N extends string> = (values: Readonly<Record<N, boolean>>) => void

/**
 * The live switches of a process: one mutable object every component reads at the moment it
 * decides (so a `PUT` takes effect on the next request), plus listeners for components that keep
 * their own flag (a readiness check that comes and goes, a bulkhead's `enabled`).
 */
export class SwitchState<N extends string = string> {
  readonly manifest: SwitchManifest<N>
  /** The live values; read, never assign (use `update`, so listeners hear of it). */
  readonly current: Record<N, boolean>
  readonly #listeners = new Set<SwitchListener<N>>()

  constructor(manifest: SwitchManifest<N>, initial: Partial<Record<N, boolean>> = {}) {
    this.manifest = manifest
    this.current = { ...manifest.defaults(), ...initial }
  }

  /**
   * Applies a partial update and tells every listener. An unknown name or a non-boolean refuses the
   * whole update (nothing changes) with a 400 `KIT_ERR_INVALID_SWITCHES` naming every problem.
   */
  update(patch: Readonly<Record<string, unknown>>): Readonly<Record<N, boolean>> {
    const problems: string[] = []
    let field: string | undefined
    for (const [name, value] of Object.entries(patch)) {
      let problem: string | undefined
      if (!this.manifest.has(name)) problem = `body.${name} is not a switch ${known(this.manifest.names)}`
      else if (typeof value !== 'boolean') problem = `body.${name} must be a boolean`
      if (problem === undefined) continue
      problems.push(problem)
      field ??= `body.${name}`
    }
    if (problems.length > 0) {
      const error = new KitInvalidSwitchesError(problems.join('; ')) as Error & { field?: string }
      error.field = field
      throw error
    }
    Object.assign(this.current, patch)
    for (const listener of this.#listeners) listener(this.current)
    return this.current
  }

  /** Calls `listener` now and after every update; returns the unsubscribe function. */
  subscribe(listener: SwitchListener<N>): () => void {
    this.#listeners.add(listener)
    listener(this.current)
    return () => this.#listeners.delete(listener)
  }

  /** A copy, safe to log or send. */
  snapshot(): Record<N, boolean> {
    return { ...this.current }
  }
}

/** The JSON schema of a full switch set: every switch a boolean, described, nothing else. */
export function switchesSchema<N extends string>(
  manifest: SwitchManifest<N>,
  options: { required?: boolean } = {},
) {
  const properties = Object.fromEntries(
    manifest.names.map((name) => {
      const spec = manifest.specs[name]
      const defends = spec.defends.length > 0 ? ` (defends against ${spec.defends.join(', ')})` : ''
      return [name, { type: 'boolean', description: `${spec.description}${defends}`, default: spec.default }]
    }),
  )
  return {
    type: 'object',
    additionalProperties: false,
    properties,
    ...(options.required ? { required: [...manifest.names] } : {}),
  } as const
}
