/**
 * Codes an experiment's load redirects to, made the way a user makes them: created through the
 * API (as custom aliases, so the load script can name them) and redirected once each, so the cache
 * Redis holds every one before the load starts. Spread round-robin over the API instances, 20 at a
 * time. The requests and the cache check are the shortener's fixture.
 */
import type { HookContext } from '@faultline/lab'
import { fixture } from '@faultline/shortener/fixture'
import { apiUrls } from './api-urls.ts'

export async function createAndWarmCodes(
  ctx: HookContext,
  codes: readonly string[],
  options: { experiment: string },
): Promise<void> {
  const links = codes.map((code) => ({ code, url: `https://example.com/${options.experiment}/${code}` }))
  await fixture.createLinks(apiUrls(ctx), links, { concurrency: 20, warm: true })
  const cached = await fixture.cachedCount(ctx.redis, codes)
  if (cached !== codes.length) {
    throw new Error(`only ${cached} of ${codes.length} codes are cached after warming`)
  }
}
