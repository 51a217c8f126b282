/**
 * The lab context: one object per mode that every hook, fault, settle condition and invariant
 * receives. It is built once when the mode starts and extended — never re-listed — by the
 * narrower contexts: a fault adds its abort `signal`, `settleUntil` the `ledger`, an invariant the
 * run's measurements. The clients come from one registry (clients/registry.ts) and are created
 * the first time a context reads them.
 *
 * Contexts extend by prototype, so reading a client through any of them creates it once; copy
 * one with `{ ...ctx }` only if you mean to create every client.
 */
import type { LabClients } from './clients/registry.ts'
import type { Mode } from './experiment.ts'
import type { Action } from './faults/action.ts'
import type { InfraControl } from './infra.ts'
import type { Ledger } from './ledger.ts'
import { MetricsSnapshot } from './metrics-scrape.ts'
import { scrapeAll } from './sampler.ts'
import type { ServiceFleet, ServiceInstance } from './services.ts'

export interface LabContext extends LabClients {
  readonly mode: Mode
  /** This mode's switches: hardened as the experiment declares them, naive all off. */
  readonly mitigations: Record<string, boolean>
  /** Every instance of the mode (empty in `reset`: the services start after it). */
  readonly services: ServiceInstance[]
  /** Base URL of an instance, e.g. `url('api', 0)` → `http://127.0.0.1:41234`. */
  url(service?: string, index?: number): string
  /** Start, stop, signal an infra component (`postgres`, `kafka` …). */
  readonly infra: InfraControl
  /** Signal, stop, restart the mode's service instances. */
  readonly fleet: ServiceFleet
  /**
   * Inject a fault now, through the same typed path as the timeline's faults (`latency(…)`,
   * `kill(…)` …): it is recorded as an event, shown in the report, and healed when the mode ends.
   * For a condition of the whole run that `setup` establishes (a slow database). Throws if the
   * action fails.
   */
  inject(action: Action, label?: string): Promise<void>
  /**
   * Scrape every instance's `/metrics` now (the run's own scrapes are before and after the
   * load), e.g. for a `settleUntil` that waits until a queue gauge is 0. Its `sum` reads like an
   * invariant's `ctx.metrics.sum`: it throws `UnmeasuredError` rather than count a missing number
   * as 0 (a killed or hung instance's scrape fails).
   */
  scrape(): Promise<MetricsSnapshot>
  log(message: string): void
}

/** Given to `reset` (before the services start: no instances yet) and `setup` (after). */
export type HookContext = LabContext

/** `settleUntil` sees the lab context and the ledger of the run. */
export interface SettleContext extends LabContext {
  readonly ledger: Ledger
}

export interface LabContextOptions {
  mode: Mode
  mitigations: Record<string, boolean>
  clients: LabClients
  infra: InfraControl
  fleet: ServiceFleet
  inject(action: Action, label?: string): Promise<void>
  log(message: string): void
}

/** The mode's context; `services` and `url` follow the fleet as it starts and restarts. */
export function createLabContext(options: LabContextOptions): LabContext {
  const { fleet } = options
  const own = {
    mode: options.mode,
    mitigations: options.mitigations,
    infra: options.infra,
    fleet,
    inject: options.inject,
    log: options.log,
    get services() {
      return fleet.instances
    },
    async scrape(): Promise<MetricsSnapshot> {
      // A snapshot is read where it is taken, never placed on the run's time axis: no tS.
      return new MetricsSnapshot(await scrapeAll(fleet, Number.NaN))
    },
    url(service = 'api', index = 0): string {
      if (fleet.instances.length === 0)
        throw new Error('no service is running yet (reset runs before the services start)')
      const url = fleet.instance(service, index).url
      if (!url) throw new Error(`${service}-${index} does not serve HTTP`)
      return url
    },
  }
  // The clients stay lazy: the context inherits the registry's getters instead of copying them.
  return Object.defineProperties(Object.create(options.clients), Object.getOwnPropertyDescriptors(own))
}

/** A narrower context: the base's fields (and lazy clients) plus `extra`. */
export function extendContext<B extends object, E extends object>(base: B, extra: E): B & E {
  return Object.defineProperties(Object.create(base), Object.getOwnPropertyDescriptors(extra))
}
