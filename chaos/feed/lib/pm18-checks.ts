/**
 * pm18's invariants, computed from what the probes recorded (lib/pm18-probes.ts): the regular
 * authors' post → delivered p99 while the celebrity posts against the same mode's idle p99 before
 * it, and how long the celebrity's posts took to be visible to its followers through the API.
 */
import { formatMs, type InvariantCheck, type RunContext } from '@faultline/lab'
import { quantileOf } from '@faultline/measure'
import { type DeliveryProbe, recorderOf } from './pm18-probes.ts'

/** The catalog's bound: non-celebrity p99 within 1.5 × idle. */
export const maxP99Ratio = 1.5
/**
 * …or within this many ms of it. Over ~360 probes at 20 a second the p99 is the 4th-slowest, and
 * one machine-wide stall on a shared 2-core machine holds up several consecutive probes at once:
 * a fresh-clone CI run (2026-12-06) measured hardened 156 vs 70 ms idle (max 296 ms) with k6's own
 * posts held up 150 ms in the same second, another on a busier machine 672 vs 304 ms idle; its
 * naive run a 264 ms stall before the backlog built; quieter runs moved by 20–30 ms (61 vs 38 ms).
 * Starvation is seconds (naive: 7–25 s, the backlog growing ~0.4 s a celebrity post), so half a
 * second cannot hide it, and one stall cannot fail a run that kept its promise.
 */
export const p99AllowanceMs = 500
/** The first seconds warm the JIT, the connections and the consumer's first fetches: not idle. */
const warmupS = 2
/** Fewer probes than this in a phase and a p99 means nothing. */
const minProbesPerPhase = 100

function p99(probes: readonly DeliveryProbe[]): number {
  return quantileOf(
    probes.map((p) => p.deliveredMs as number),
    0.99,
  )
}

/** Probes posted before the celebrity's first post (after the warm-up), and from it to the end. */
export function phases(ctx: Pick<RunContext, 'mode'>): {
  idle: DeliveryProbe[]
  during: DeliveryProbe[]
  startS: number
} {
  const recorder = recorderOf(ctx.mode)
  const startS = recorder.celebrity[0]?.tS ?? Number.POSITIVE_INFINITY
  const measured = recorder.probes.filter((p) => p.deliveredMs !== undefined)
  return {
    idle: measured.filter((p) => p.tS >= warmupS && p.tS < startS),
    during: measured.filter((p) => p.tS >= startS),
    startS,
  }
}

export function regularP99Ratio(ctx: RunContext): InvariantCheck {
  const { idle, during, startS } = phases(ctx)
  if (idle.length === 0 || during.length === 0)
    return { holds: false, observed: `not measured (${idle.length} idle, ${during.length} during probes)` }
  const idleP99 = p99(idle)
  const duringP99 = p99(during)
  const ratio = duringP99 / idleP99
  const censored = during.filter((p) => p.censored).length
  return {
    holds: duringP99 <= Math.max(maxP99Ratio * idleP99, idleP99 + p99AllowanceMs),
    observed: `${formatMs(duringP99)} vs ${formatMs(idleP99)} idle (${ratio.toFixed(2)}×)`,
    detail:
      `${during.length} probe posts from the celebrity's first post (t=${startS.toFixed(1)} s) to the end, ` +
      `${idle.length} before it (from t=${warmupS} s); p50 ${formatMs(
        quantileOf(
          during.map((p) => p.deliveredMs as number),
          0.5,
        ),
      )} vs ${formatMs(
        quantileOf(
          idle.map((p) => p.deliveredMs as number),
          0.5,
        ),
      )} idle; max ${formatMs(Math.max(...during.map((p) => p.deliveredMs as number)))}` +
      (censored > 0
        ? `; ${censored} never delivered before the probing ended (counted at their age then)`
        : ''),
  }
}

export function celebrityVisibleWithin(boundS: number): (ctx: RunContext) => InvariantCheck {
  return (ctx) => {
    const { celebrity, plan } = recorderOf(ctx.mode)
    if (celebrity.length === 0) return { holds: false, observed: 'the celebrity never posted' }
    const times = celebrity.map((p) => p.visibleMs as number)
    const worst = Math.max(...times)
    const late = celebrity.filter((p) => p.censored || (p.visibleMs as number) > boundS * 1000)
    return {
      holds: late.length === 0,
      observed: `slowest ${formatMs(worst)}${late.length > 0 ? `; ${late.length} of ${celebrity.length} posts later than ${boundS} s` : ` (${celebrity.length} posts)`}`,
      detail:
        `post → visible on the first page of ${plan?.watchers.length ?? 0} followers' timelines (the last ones a push reaches), ` +
        `p50 ${formatMs(quantileOf(times, 0.5))}; per post: ${times.map((ms) => formatMs(ms)).join(', ')}` +
        (celebrity.some((p) => p.censored) ? ' (some never visible before the probing ended)' : ''),
    }
  }
}

/** The run measured what the verdict rests on: both phases probed, every celebrity post made. */
export function measuredAsPlanned(celebrityFault: number): (ctx: RunContext) => InvariantCheck {
  return (ctx) => {
    const recorder = recorderOf(ctx.mode)
    const { idle, during } = phases(ctx)
    const planned = ctx.faults[celebrityFault]?.firesS.length ?? 0
    const attempted = recorder.probes.length + recorder.errors.length
    const probeErrors = recorder.errors.length / Math.max(1, attempted)
    const holds =
      idle.length >= minProbesPerPhase &&
      during.length >= minProbesPerPhase &&
      planned > 0 &&
      recorder.celebrity.length === planned &&
      probeErrors <= 0.01
    return {
      holds,
      observed:
        `${idle.length} idle and ${during.length} probe posts during the celebrity's posts; ` +
        `${recorder.celebrity.length} of ${planned} celebrity posts; ${recorder.errors.length} probe errors`,
      ...(recorder.errors.length > 0 ? { detail: recorder.errors.slice(0, 3).join('; ') } : {}),
    }
  }
}
