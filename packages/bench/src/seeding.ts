/**
 * Helpers for a BenchTarget's `seed`: what a measured run reads is created before it, so creating
 * it is not part of what is measured, and read once, so the run reads a warm cache.
 */
import { inParallel } from '@faultline/resilience'

/** GET each path once (redirects not followed); returns the count of each status (or error name). */
export async function warmPaths(
  baseUrl: string,
  paths: readonly string[],
  concurrency = 16,
): Promise<Record<string, number>> {
  const statuses: Record<string, number> = {}
  await inParallel(paths.length, concurrency, async (i) => {
    let key: string
    try {
      const res = await fetch(`${baseUrl}${paths[i]}`, {
        redirect: 'manual',
        signal: AbortSignal.timeout(10_000),
      })
      await res.arrayBuffer()
      key = String(res.status)
    } catch (err) {
      key = (err as Error).name
    }
    statuses[key] = (statuses[key] ?? 0) + 1
  })
  return statuses
}
