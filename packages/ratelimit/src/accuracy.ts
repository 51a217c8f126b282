/**
 * How many requests a limiter admitted in its worst window: the figure behind "exact". Pure
 * functions over admitted timestamps, used by the correctness tests, the load tests and the
 * benchmark alike, so every accuracy number in the docs is computed one way.
 *
 * A window of length W is half-open, [t, t + W): two admissions W apart are in different windows,
 * the same convention as the sliding log, which forgets an entry at exactly now - W. Timestamps
 * and W may be in any unit, as long as it is the same one; the tests use Redis time in µs, which
 * is exact in a double, so no rounding moves an admission across a window's edge.
 */

/**
 * The most admissions in any window of length `window` over `sortedTimestamps` (ascending; an
 * admission of cost c appears c times). Two pointers: O(n).
 */
export function maxInAnyWindow(sortedTimestamps: readonly number[], window: number): number {
  if (!(window > 0)) throw new RangeError('maxInAnyWindow: window must be > 0')
  let best = 0
  let left = 0
  for (let right = 0; right < sortedTimestamps.length; right++) {
    const t = sortedTimestamps[right] as number
    if (right > 0 && t < (sortedTimestamps[right - 1] as number)) {
      throw new RangeError('maxInAnyWindow: timestamps must be sorted ascending')
    }
    while (t - (sortedTimestamps[left] as number) >= window) left++
    best = Math.max(best, right - left + 1)
  }
  return best
}

/** `maxInAnyWindow / limit`: 1.00 is exact, 2.00 is a fixed window's worst edge burst. */
export function accuracyRatio(sortedTimestamps: readonly number[], window: number, limit: number): number {
  if (!(limit > 0)) throw new RangeError('accuracyRatio: limit must be > 0')
  return maxInAnyWindow(sortedTimestamps, window) / limit
}

/**
 * The bucket bound (token bucket, GCRA): in any closed interval [a, b], at most
 * `burst + ratePerUnit × (b - a)` admissions. Returns the largest excess over that bound across
 * all intervals (≤ 0 means the bound holds). O(n): with c(i) = i - rate × t(i), the excess of
 * [t(i), t(j)] is c(j) - c(i) + 1 - burst, so it is the best c(j) minus the lowest c(i) before it.
 */
export function maxExcessOverBucketBound(
  sortedTimestamps: readonly number[],
  burst: number,
  ratePerUnit: number,
): number {
  let worst = Number.NEGATIVE_INFINITY
  let lowest = Number.POSITIVE_INFINITY
  // Times relative to the first, so rate × t stays small and keeps its fractional digits.
  const origin = sortedTimestamps[0] ?? 0
  for (let j = 0; j < sortedTimestamps.length; j++) {
    const c = j - ratePerUnit * ((sortedTimestamps[j] as number) - origin)
    lowest = Math.min(lowest, c)
    worst = Math.max(worst, c - lowest + 1 - burst)
  }
  return worst
}

/** Sorted copy of admission timestamps with each repeated `cost` times (weights as units). */
export function expandByCost(admissions: ReadonlyArray<{ at: number; cost: number }>): number[] {
  const out: number[] = []
  for (const { at, cost } of admissions) for (let i = 0; i < cost; i++) out.push(at)
  return out.sort((a, b) => a - b)
}
