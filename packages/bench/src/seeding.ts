/**
 * Helpers for a BenchTarget's `seed`: what a measured run reads is created before it, so creating
 * it is not part of what is measured, and read once, so the run reads a warm cache.
 */

/** Runs `work(0..count-1)` with at most `concurrency` in flight; results in index order. */
export async function inParallel<T>(
  count: number,
  concurrency: number,
  work: (i: number) => Promise<T>,
): Promise<T[]> {
  const results = new Array<T>(count)
  let next = 0
  const worker = async () => {
    while (next < count) {
      const i = next++
      results[i] = await work(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  return results
}

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
