/** Per-second aggregation of the ledger: what the chart draws and what window invariants read. */
import { quantile } from '@faultline/measure'
import type { LedgerEntry } from './ledger.ts'

// The lab's quantiles are @faultline/measure's (R-7, k6's own definition: see quantile.ts there),
// so a p99 in a lab report and k6's p(99) for the same requests are the same number.
export { quantile }

export interface SecondStats {
  /** Second since the load start: the bucket [t, t+1) by the time the answer arrived. */
  t: number
  count: number
  ok: number
  errors: number
  /** errors / count, 0 when the second saw no request. */
  errorRate: number
  /** Latency quantiles over every request that finished in this second; null when none did. */
  p50Ms: number | null
  p99Ms: number | null
  maxMs: number | null
}

/**
 * One bucket per second from 0 to the end of the load (or to the last answer, whichever is
 * later: requests in flight when the load stops still land).
 */
export function perSecond(entries: readonly LedgerEntry[], durationS: number): SecondStats[] {
  let last = Math.ceil(durationS) - 1
  for (const e of entries) last = Math.max(last, Math.floor(e.endMs / 1000))
  const latencies: number[][] = Array.from({ length: last + 1 }, () => [])
  const ok = new Array<number>(last + 1).fill(0)
  for (const e of entries) {
    const t = Math.max(0, Math.floor(e.endMs / 1000))
    latencies[t]?.push(e.latencyMs)
    if (e.ok) ok[t] = (ok[t] ?? 0) + 1
  }
  return latencies.map((values, t) => {
    values.sort((a, b) => a - b)
    const count = values.length
    const okCount = ok[t] ?? 0
    return {
      t,
      count,
      ok: okCount,
      errors: count - okCount,
      errorRate: count === 0 ? 0 : (count - okCount) / count,
      p50Ms: count === 0 ? null : quantile(values, 0.5),
      p99Ms: count === 0 ? null : quantile(values, 0.99),
      maxMs: count === 0 ? null : (values[count - 1] as number),
    }
  })
}
