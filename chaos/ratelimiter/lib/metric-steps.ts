/**
 * Counters of the decision service read second by second from the lab's sampler, for invariants
 * that are about *when* (pm06: do Redis attempts per decision come back to normal after the
 * toxic, and how soon; pm19: how many decisions were admitted in each second of the failover).
 *
 * A step is the growth of each counter between two consecutive sampler ticks at which every
 * instance answered its scrape; a tick where one instance missed its scrape is skipped rather than
 * read as a drop (the growth then spans two ticks). Counters summed over instances.
 */
import type { MetricRef, RunContext } from '@faultline/lab'

export interface Step {
  fromS: number
  toS: number
  /** Growth of each counter over the step, in the order the refs were given. */
  growth: number[]
}

/** Steps of the given counters over the whole load (ticks at t ≥ 0). */
export function counterSteps(ctx: Pick<RunContext, 'metrics'>, refs: readonly MetricRef[]): Step[] {
  const series = refs.map((ref) => ctx.metrics.series(ref.name, ref.labels))
  const instances = Math.max(0, ...series.flatMap((s) => s.map((p) => p.instances)))
  const byTick = series.map(
    (s) => new Map(s.filter((p) => p.instances === instances).map((p) => [p.tS, p.value])),
  )
  const ticks = [...(byTick[0]?.keys() ?? [])]
    .filter((t) => t >= 0 && byTick.every((m) => m.has(t)))
    .sort((a, b) => a - b)
  const steps: Step[] = []
  for (let i = 1; i < ticks.length; i++) {
    const fromS = ticks[i - 1] as number
    const toS = ticks[i] as number
    // A counter that went down restarted with its process: its growth is its new value.
    const growth = byTick.map((m) => {
      const before = m.get(fromS) as number
      const after = m.get(toS) as number
      return after >= before ? after - before : after
    })
    steps.push({ fromS, toS, growth })
  }
  return steps
}

/**
 * When a fault's heal actually ran (its heal event), else its planned end: recovery is timed
 * from the moment the fault was gone, not from the plan.
 */
export function faultEndS(ctx: Pick<RunContext, 'events' | 'faults'>, fault: number): number {
  const healed = ctx.events.find((e) => e.fault === fault && e.phase === 'heal' && e.status === 'ok')
  return healed?.tS ?? (ctx.faults[fault]?.toS as number)
}

/** When a fault's action actually fired, else its planned start. */
export function faultStartS(ctx: Pick<RunContext, 'events' | 'faults'>, fault: number): number {
  const fired = ctx.events.find((e) => e.fault === fault && e.phase === 'inject' && e.status === 'ok')
  return fired?.tS ?? (ctx.faults[fault]?.fromS as number)
}

/**
 * The first time from which every step is healthy to the end of the load, i.e. the system
 * recovered and stayed so — and from which the remaining steps taken together pass
 * `healthyTogether` (a share over several seconds, which one noisy second cannot sink); undefined
 * when the last step is still unhealthy (it never recovered). Only steps that begin at or after
 * `fromS` are considered.
 */
export function recoveredAtS(
  steps: readonly Step[],
  fromS: number,
  healthy: (s: Step) => boolean,
  healthyTogether: (rest: readonly Step[]) => boolean = () => true,
): number | undefined {
  const after = steps.filter((s) => s.fromS >= fromS - 0.5)
  let recovered: number | undefined
  for (const step of after) {
    if (!healthy(step)) recovered = undefined
    else recovered ??= step.fromS
  }
  if (recovered === undefined) return undefined
  // The earliest second from which every second is healthy and the rest, together, is too.
  const calm = after.slice(after.findIndex((s) => s.fromS === recovered))
  for (const [i, step] of calm.entries()) {
    if (healthyTogether(calm.slice(i))) return step.fromS
  }
  return undefined
}
