/**
 * Bounded concurrency for a batch of known size: seeding thousands of links or warming thousands
 * of paths one at a time is slow, all at once opens thousands of sockets and connections.
 */

/**
 * Runs `work(0..count-1)` with at most `concurrency` calls in flight; resolves with the results in
 * index order. After the first rejection no further index is started, and the call rejects with
 * that error once the calls in flight have settled, so nothing runs on after it returned.
 */
export async function inParallel<T>(
  count: number,
  concurrency: number,
  work: (i: number) => Promise<T>,
): Promise<T[]> {
  if (!(concurrency >= 1)) throw new RangeError(`concurrency must be at least 1, got ${concurrency}`)
  const results = new Array<T>(count)
  let next = 0
  let failure: { error: unknown } | undefined
  const lane = async () => {
    while (failure === undefined && next < count) {
      const i = next++
      try {
        results[i] = await work(i)
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane))
  if (failure !== undefined) throw failure.error
  return results
}
