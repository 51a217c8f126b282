/**
 * What a process-level fault hits, and the custom action: the pieces every fault family shares.
 */
import type { ServiceInstance } from '../services.ts'
import type { Action, ActionResult, FaultContext, Heal } from './action.ts'

/** What a process-level action hits: instances of a service the lab started, or an infra component. */
export type Target =
  | { kind: 'service'; service: string; index: number | 'all' }
  | { kind: 'infra'; component: string }

/** Instance `index` of a service (`'all'` for every instance). */
export function service(name: string, index: number | 'all' = 0): Target {
  return { kind: 'service', service: name, index }
}

/** An infra component by name: `postgres`, `redis-cache`, `kafka`, `toxiproxy` … */
export function infra(component: string): Target {
  return { kind: 'infra', component }
}

export function describeTarget(target: Target): string {
  if (target.kind === 'infra') return target.component
  return target.index === 'all' ? `${target.service} (all instances)` : `${target.service}-${target.index}`
}

export function instancesOf(
  ctx: FaultContext,
  target: Extract<Target, { kind: 'service' }>,
): ServiceInstance[] {
  if (target.index === 'all') return ctx.fleet.instances.filter((i) => i.service === target.service)
  return [ctx.fleet.instance(target.service, target.index)]
}

/** A custom action: `run` does the work and may return a heal. */
export function action(
  describe: string,
  // biome-ignore lint/suspicious/noConfusingVoidType: an async body that returns nothing is a valid action.
  run: (ctx: FaultContext) => Promise<ActionResult | Heal | undefined | void>,
): Action {
  return {
    kind: 'custom',
    describe,
    async run(ctx) {
      const result = await run(ctx)
      if (typeof result === 'function') return { heal: result }
      return result ?? undefined
    },
  }
}
