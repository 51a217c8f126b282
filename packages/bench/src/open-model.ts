/**
 * The open-model (constant arrival rate) run of the redirect benchmark: how many VUs it gets,
 * and when its latency counts as meeting the target.
 */

/** What one measured run gives, whichever generator made it (k6's summary, vegeta's report). */
export interface RunStats {
  requests: number
  /** Share of failed requests. */
  failedRate: number
  /** Requests the schedule offered but the generator could not start on time (k6: dropped_iterations). */
  dropped: number
  p50Ms: number | null
  p90Ms: number | null
  p99Ms: number | null
  p999Ms: number | null
  maxMs: number | null
}

/** What these rules read of a run. */
export type RunResult = Pick<RunStats, 'dropped' | 'p99Ms' | 'failedRate'>

/**
 * VUs for the open-model run: rate × the p99 target (Little's law), at least 8, pre-allocated.
 * Enough for every request to take the target latency; a run that needs more has a mean latency
 * above the target, so its p99 fails anyway, and k6 counts the iterations it could not start
 * (dropped_iterations), which fail the verdict above 1%. The cap matters on a small machine:
 * k6 grows its pool while requests are slow (it reached 358 VUs at 6 000/s with the old
 * 128 / 512), and the extra VUs cost the CPU the servers need, turning a blip into a spiral.
 */
export function openModelVus(rate: number, p99TargetMs: number): number {
  return Math.max(8, Math.ceil((rate * p99TargetMs) / 1000))
}

/** The share of the offered iterations k6 could not start (no free VU, or k6 itself behind). */
export function droppedShare(run: Pick<RunResult, 'dropped'>, rate: number, durationS: number): number {
  return run.dropped / Math.max(1, rate * durationS)
}

export function meetsLatencyTarget(
  run: Pick<RunResult, 'dropped' | 'p99Ms' | 'failedRate'>,
  rate: number,
  durationS: number,
  p99TargetMs: number,
): boolean {
  return (
    run.p99Ms !== null &&
    run.p99Ms <= p99TargetMs &&
    run.failedRate <= 0.01 &&
    droppedShare(run, rate, durationS) <= 0.01
  )
}
