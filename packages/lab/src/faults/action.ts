import type { LabContext } from '../context.ts'

/**
 * What an action may touch while it runs: the mode's lab context (direct clients, Toxiproxy, the
 * infra and the fleet) plus an abort signal.
 */
export interface FaultContext extends LabContext {
  /** Aborted when the run is cleaning up: a long action (a blocked SQL statement) must give up. */
  readonly signal: AbortSignal
}

/**
 * Why a heal runs: the fault's `until` (or `hold`) came, or the run is cleaning up (end of the
 * load, an error, Ctrl-C). A killed service instance is restarted on `until` only: at cleanup
 * the services are stopped anyway.
 */
export type HealReason = 'until' | 'cleanup'

/** Undo a fault. May return a short note for the event log (e.g. "restarted in 2.1 s"). */
export type Heal = (reason: HealReason) => Promise<string | undefined>

export interface ActionResult {
  heal?: Heal
  /** A short note for the event log (e.g. "deleted 3 keys"). */
  note?: string
}

/**
 * A fault action. Constructors in `faults/*.ts` build them (`latency('redis-cache', 1000)`,
 * `kill(service('api', 0))` …); `action(describe, run)` makes a custom one.
 */
export interface Action {
  /** The constructor's name: `toxic`, `kill`, `sql` … */
  kind: string
  /** Human-readable, e.g. `latency 1000 ms on redis-cache`. */
  describe: string
  run(ctx: FaultContext): Promise<ActionResult | undefined>
}
