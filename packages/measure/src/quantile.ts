/**
 * The one percentile definition of Faultline: sort, then interpolate linearly between the two
 * closest ranks — `rank = q × (n − 1)` — the definition Hyndman & Fan call R-7, numpy's and R's
 * default, and the one k6 uses for its own `p(99)` (its trend sink interpolates the same way).
 *
 * Why this one and not nearest-rank: k6 computes the p99 in its end-of-test summary and in every
 * `thresholds` expression of loadtests/, so with R-7 the p99 a lab report, a bench report and
 * k6's own summary print for the same requests is the same number. The lab used nearest-rank and
 * the bench R-7 until both used this module; on 100 values the two differ by up to one gap
 * between neighbours (nearest-rank's p50 of 1..100 is 50, R-7's 50.5). Nearest-rank also jumps
 * from one sample to the next as `q` moves, which makes per-second p99s of small buckets noisy.
 */

/**
 * The `q` quantile (0..1: 0.99 is the p99) of values already sorted ascending; NaN when there are
 * none. Throws on a `q` outside 0..1, which is always a caller's mix-up with percent.
 */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be within 0..1, got ${q}`)
  const n = sorted.length
  if (n === 0) return Number.NaN
  const rank = q * (n - 1)
  const lo = Math.floor(rank)
  const hi = Math.ceil(rank)
  const low = sorted[lo] as number
  const high = sorted[hi] as number
  return low + (high - low) * (rank - lo)
}

/** A sorted copy, numerically (Array#sort without a comparator sorts as strings). */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  // A typed array sorts numerically and several times faster than Array#sort with a comparator.
  return Float64Array.from(values).sort()
}

/** Sorts a copy and takes the quantile: for one quantile of unsorted values. */
export function quantileOf(values: ArrayLike<number>, q: number): number {
  return quantile(sortedCopy(values), q)
}

export interface LatencySummary {
  count: number
  minMs: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
  avgMs: number
}

/** Count, mean and the quantiles every report shows; NaN fields when `valuesMs` is empty. */
export function summarizeLatency(valuesMs: ArrayLike<number>): LatencySummary {
  const sorted = sortedCopy(valuesMs)
  let sum = 0
  for (const v of sorted) sum += v
  const n = sorted.length
  return {
    count: n,
    minMs: n === 0 ? Number.NaN : (sorted[0] as number),
    p50Ms: quantile(sorted, 0.5),
    p90Ms: quantile(sorted, 0.9),
    p99Ms: quantile(sorted, 0.99),
    p999Ms: quantile(sorted, 0.999),
    maxMs: n === 0 ? Number.NaN : (sorted[n - 1] as number),
    avgMs: n === 0 ? Number.NaN : sum / n,
  }
}
