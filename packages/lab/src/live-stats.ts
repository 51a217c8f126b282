/** Live numbers for the progress line: per-second counts and latencies of the last few seconds. */
import { quantile } from './timeseries.ts'

export class LiveStats {
  private readonly counts = new Map<number, { n: number; errors: number; latencies: number[] }>()

  add(endMs: number, ok: boolean, latencyMs: number): void {
    const sec = Math.floor(endMs / 1000)
    const cur = this.counts.get(sec) ?? { n: 0, errors: 0, latencies: [] }
    cur.n++
    if (!ok) cur.errors++
    cur.latencies.push(latencyMs)
    this.counts.set(sec, cur)
    this.counts.delete(sec - 10)
  }

  second(sec: number): { rps: number; errors: number; p99Ms: number | null } {
    const cur = this.counts.get(sec)
    if (!cur) return { rps: 0, errors: 0, p99Ms: null }
    return {
      rps: cur.n,
      errors: cur.errors,
      p99Ms: quantile(
        [...cur.latencies].sort((a, b) => a - b),
        0.99,
      ),
    }
  }
}
