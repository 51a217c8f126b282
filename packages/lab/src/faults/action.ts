import type { Redis } from 'ioredis'
import type { Pool } from 'pg'
import type { Mode } from '../experiment.ts'
import type { InfraControl } from '../infra.ts'
import type { ServiceFleet } from '../services.ts'
import type { ToxiproxyApi } from './toxiproxy.ts'

/** What an action may touch while it runs. Redis and Postgres are direct, never through Toxiproxy. */
export interface FaultContext {
  mode: Mode
  mitigations: Record<string, boolean>
  /** Aborted when the run is cleaning up: a long action (a blocked SQL statement) must give up. */
  signal: AbortSignal
  services: ServiceFleet
  infra: InfraControl
  toxiproxy: ToxiproxyApi
  pg: Pool
  redis: Redis
  queueRedis: Redis
  log(message: string): void
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
 * A fault action. Constructors in `faults/index.ts` build them (`latency('redis-cache', 1000)`,
 * `kill(service('api', 0))` …); `action(describe, run)` makes a custom one.
 */
export interface Action {
  /** The constructor's name: `toxic`, `kill`, `sql` … */
  kind: string
  /** Human-readable, e.g. `latency 1000 ms on redis-cache`. */
  describe: string
  run(ctx: FaultContext): Promise<ActionResult | undefined>
}
