/**
 * Links created before a measured run, so creating them is not part of what is measured, and each
 * redirected once so the run reads a warm cache (every redirect a cache hit).
 */

export interface CodeSetOptions {
  count: number
  /** Parallel requests. */
  concurrency?: number
  /** Distinguishes this run's target URLs from earlier runs'. */
  runId?: string
}

async function pool<T>(count: number, concurrency: number, work: (i: number) => Promise<T>): Promise<T[]> {
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

/** POST /api/links `count` times; throws when more than 1% failed (with the first failure). */
export async function createCodes(baseUrl: string, options: CodeSetOptions): Promise<string[]> {
  const runId = options.runId ?? Date.now().toString(36)
  let firstError: string | undefined
  const results = await pool(options.count, options.concurrency ?? 16, async (i) => {
    try {
      const res = await fetch(`${baseUrl}/api/links`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: `https://example.com/bench/${runId}/${i}` }),
        signal: AbortSignal.timeout(10_000),
      })
      const text = await res.text()
      if (res.status !== 201) {
        firstError ??= `POST /api/links → ${res.status} ${text.slice(0, 200)}`
        return undefined
      }
      const code = (JSON.parse(text) as { code?: unknown }).code
      return typeof code === 'string' ? code : undefined
    } catch (err) {
      firstError ??= `POST /api/links: ${(err as Error).message}`
      return undefined
    }
  })
  const codes = results.filter((c): c is string => c !== undefined)
  if (codes.length < options.count * 0.99) {
    throw new Error(
      `created only ${codes.length} of ${options.count} links at ${baseUrl}: ${firstError ?? 'unknown error'}`,
    )
  }
  return codes
}

/** GET /:code for each code (without following); returns the status counts. */
export async function warmCodes(
  baseUrl: string,
  codes: readonly string[],
  concurrency = 16,
): Promise<Record<string, number>> {
  const statuses: Record<string, number> = {}
  await pool(codes.length, concurrency, async (i) => {
    let key: string
    try {
      const res = await fetch(`${baseUrl}/${codes[i]}`, {
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
