import type { FastifyInstance } from 'fastify'
import { LinkExpiredError, LinkNotFoundError } from '../errors.ts'
import type { LinkResolver } from '../link-resolver.ts'
import type { ShortenerMetrics } from '../metrics.ts'
import { codeParam, errorResponses } from '../schemas.ts'

export interface RedirectOptions {
  /** 302 (default): every visit reaches us (clicks counted, expiry enforced). 301: browsers cache it. */
  status: 301 | 302
  /** max-age of a 301, capped by the link's remaining lifetime. */
  permanentMaxAgeS: number
}

/** Anything that could be a code: longer or other characters cannot exist, so they skip Redis and Postgres. */
const possibleCode = /^[A-Za-z0-9_-]{1,32}$/

export function redirectRoutes(
  app: FastifyInstance,
  deps: {
    resolver: LinkResolver
    clicks: { record(code: string): void }
    metrics: ShortenerMetrics
    redirect: RedirectOptions
    now: () => number
  },
) {
  app.get<{ Params: { code: string } }>(
    '/:code',
    {
      schema: {
        summary: 'Follow a short link',
        description:
          '302 (or 301, per REDIRECT_STATUS) to the target; 404 for an unknown code, 410 for an expired link. ' +
          'Records a click without waiting for it.',
        tags: ['redirect'],
        params: codeParam,
        response: {
          301: { description: 'Permanent redirect (Location header)', type: 'null' },
          302: { description: 'Temporary redirect (Location header)', type: 'null' },
          ...errorResponses(404, 410, 503),
        },
      },
      onResponse: async (_request, reply) => {
        deps.metrics.redirects.inc({ status: String(reply.statusCode) })
      },
    },
    async (request, reply) => {
      const { code } = request.params
      // Errors of this route must not be cached by browsers or proxies: a 404 may become a link.
      reply.header('cache-control', 'no-store')
      if (!possibleCode.test(code)) throw new LinkNotFoundError()
      const found = await deps.resolver.resolve(code)
      if (found.kind === 'missing') throw new LinkNotFoundError()
      const now = deps.now()
      if (found.expiresAtMs !== null && found.expiresAtMs <= now) throw new LinkExpiredError()
      // A HEAD (link previews, crawlers checking a link) is not a visit.
      if (request.method !== 'HEAD') deps.clicks.record(code)
      if (deps.redirect.status === 301) {
        const lifetimeS =
          found.expiresAtMs === null ? Number.POSITIVE_INFINITY : Math.floor((found.expiresAtMs - now) / 1000)
        const maxAgeS = Math.max(0, Math.min(deps.redirect.permanentMaxAgeS, lifetimeS))
        reply.header('cache-control', `public, max-age=${maxAgeS}`)
      } else {
        // Not cached anywhere: the next visit comes back to us, so it is counted and expiry holds.
        reply.header('cache-control', 'private, max-age=0')
      }
      return reply.redirect(found.url, deps.redirect.status)
    },
  )
}
