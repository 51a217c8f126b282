/**
 * Machine CPU per request: what one request costs each part of the system, in microseconds of
 * CPU. Unlike req/s, it adds up across processes, so it shows where a ratio between two servers
 * goes when they share the machine with the load generator and with the infrastructure behind
 * one of them (the shortener's click pipeline: Kafka, the worker, Postgres).
 */

export interface CpuSample {
  rps: number
  /** Mean cores per part over the run (server, k6, postgres …). */
  cores: Record<string, number | null | undefined>
}

/** Mean µs of CPU per request for each part, over runs; parts never measured are left out. */
export function cpuMicrosPerRequest(runs: readonly CpuSample[]): Record<string, number> {
  const sums: Record<string, { total: number; n: number }> = {}
  for (const run of runs) {
    if (!(run.rps > 0)) continue
    for (const [part, cores] of Object.entries(run.cores)) {
      if (cores === null || cores === undefined || !Number.isFinite(cores)) continue
      const s = sums[part] ?? { total: 0, n: 0 }
      s.total += (cores / run.rps) * 1e6
      s.n++
      sums[part] = s
    }
  }
  return Object.fromEntries(Object.entries(sums).map(([part, s]) => [part, s.total / s.n]))
}

/** `199 µs (server 47, k6 69, …)`: the total first, then each part over 0.5 µs, largest first. */
export function formatCpuCost(micros: Record<string, number>, totalKey = 'machine'): string {
  const parts = Object.entries(micros)
    .filter(([part, us]) => part !== totalKey && us >= 0.5)
    .sort((a, b) => b[1] - a[1])
    .map(([part, us]) => `${part} ${Math.round(us)}`)
  const total = micros[totalKey]
  return `${total === undefined ? 'n/a' : `${Math.round(total)} µs`} (${parts.join(', ')})`
}
