import type { FastifyInstance } from 'fastify'
import { LinkNotFoundError } from '../errors.ts'
import type { CreateLinkInput, LinkService } from '../link-service.ts'
import { codeParam, createdLink, createLinkBody, errorResponses, linkDetails } from '../schemas.ts'

export function linkRoutes(app: FastifyInstance, deps: { links: LinkService; now: () => number }) {
  app.post<{ Body: CreateLinkInput }>(
    '/api/links',
    {
      schema: {
        summary: 'Create a short link',
        tags: ['links'],
        body: createLinkBody,
        response: { 201: createdLink, ...errorResponses(400, 409, 413, 415, 503, 507) },
      },
    },
    async (request, reply) => {
      const created = await deps.links.create(request.body)
      reply.code(201).header('location', `/api/links/${encodeURIComponent(created.code)}`)
      return created
    },
  )

  app.get<{ Params: { code: string } }>(
    '/api/links/:code',
    {
      schema: {
        summary: 'A link and its click count',
        tags: ['links'],
        params: codeParam,
        response: { 200: linkDetails, ...errorResponses(404, 503) },
      },
    },
    async (request) => {
      const link = await deps.links.get(request.params.code)
      if (!link) throw new LinkNotFoundError()
      return {
        code: link.code,
        shortUrl: deps.links.shortUrl(link.code),
        url: link.url,
        customAlias: link.customAlias,
        createdAt: link.createdAt.toISOString(),
        expiresAt: link.expiresAt?.toISOString() ?? null,
        expired: link.expiresAt !== null && link.expiresAt.getTime() <= deps.now(),
        clicks: link.clicks,
      }
    },
  )
}
