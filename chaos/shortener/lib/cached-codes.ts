/**
 * Codes an experiment's load redirects to, made the way a user makes them: created through the
 * API (as custom aliases, so the load script can name them) and redirected once each, so the cache
 * Redis holds every one before the load starts. Spread round-robin over the API instances, 20 at a
 * time.
 */
import type { HookContext } from '@faultline/lab'

export async function createAndWarmCodes(
  ctx: HookContext,
  codes: readonly string[],
  options: { instances: number; experiment: string },
): Promise<void> {
  for (let start = 0; start < codes.length; start += 20) {
    await Promise.all(
      codes.slice(start, start + 20).map(async (alias, j) => {
        const base = ctx.url('api', (start + j) % options.instances)
        const res = await fetch(`${base}/api/links`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ url: `https://example.com/${options.experiment}/${alias}`, alias }),
        })
        if (res.status !== 201) throw new Error(`creating ${alias}: HTTP ${res.status} ${await res.text()}`)
        const warm = await fetch(`${base}/${alias}`, { redirect: 'manual' })
        await warm.arrayBuffer()
        if (warm.status !== 301 && warm.status !== 302)
          throw new Error(`warming ${alias}: HTTP ${warm.status}`)
      }),
    )
  }
  // Keys from services/shortener/src/keys.ts.
  const cached = await ctx.redis.exists(...codes.map((c) => `shortener:link:${c}`))
  if (cached !== codes.length) {
    throw new Error(`only ${cached} of ${codes.length} codes are cached after warming`)
  }
}
