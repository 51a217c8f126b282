import type { HookContext } from '@faultline/lab'

/** Base URLs of the mode's API instances, in instance order (what the fixture spreads requests over). */
export function apiUrls(ctx: Pick<HookContext, 'services'>): string[] {
  return ctx.services.flatMap((s) => (s.service === 'api' && s.url ? [s.url] : []))
}
