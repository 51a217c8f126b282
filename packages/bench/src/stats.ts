/**
 * Percentiles the way k6 computes them, so a step's p99 here and the p99 in k6's own summary
 * agree: sort, then interpolate linearly between the two closest ranks (the "R-7" definition,
 * also numpy's default). Nearest-rank would jump between samples and make small steps noisy.
 */

/** The `p`th percentile (0..100) of values already sorted ascending; NaN when there are none. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`)
  const n = sorted.length
  if (n === 0) return Number.NaN
  if (n === 1) return sorted[0] as number
  const rank = (p / 100) * (n - 1)
  const lo = Math.floor(rank)
  const hi = Math.ceil(rank)
  const low = sorted[lo] as number
  const high = sorted[hi] as number
  return low + (high - low) * (rank - lo)
}

/** Sorts a copy (numerically: the default sort is lexicographic) and takes the percentile. */
export function percentile(values: ArrayLike<number>, p: number): number {
  return percentileSorted(sortedCopy(values), p)
}

export function sortedCopy(values: ArrayLike<number>): Float64Array {
  // A typed array sorts numerically and several times faster than Array#sort with a comparator.
  return Float64Array.from(values).sort()
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

/** Count, mean and the percentiles every report shows; NaN fields when `valuesMs` is empty. */
export function summarizeLatency(valuesMs: ArrayLike<number>): LatencySummary {
  const sorted = sortedCopy(valuesMs)
  let sum = 0
  for (const v of sorted) sum += v
  const n = sorted.length
  return {
    count: n,
    minMs: n === 0 ? Number.NaN : (sorted[0] as number),
    p50Ms: percentileSorted(sorted, 50),
    p90Ms: percentileSorted(sorted, 90),
    p99Ms: percentileSorted(sorted, 99),
    p999Ms: percentileSorted(sorted, 99.9),
    maxMs: n === 0 ? Number.NaN : (sorted[n - 1] as number),
    avgMs: n === 0 ? Number.NaN : sum / n,
  }
}
