import type { FastifyInstance } from 'fastify'
import { InvalidFieldError, templateNotFound } from '../errors.ts'
import type { TemplateChannels, TemplateRepository } from '../repositories/templates.ts'
import { validateTemplate } from '../templates/validate.ts'
import { errorResponses, templateBody, templateParams, templateSchema } from './schemas.ts'

export interface TemplateRouteDeps {
  templates: TemplateRepository
}

/** PUT /api/templates/:name (201 created, 200 replaced), GET /api/templates/:name, GET /api/templates. */
export function templateRoutes(app: FastifyInstance, deps: TemplateRouteDeps) {
  app.put<{ Params: { name: string }; Body: { channels: TemplateChannels } }>(
    '/api/templates/:name',
    {
      schema: {
        summary: 'Create or replace a template (Liquid sources per channel)',
        tags: ['templates'],
        params: templateParams,
        body: templateBody,
        response: { 200: templateSchema, 201: templateSchema, ...errorResponses(400, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const problems = validateTemplate(request.body.channels)
      const first = problems[0]
      if (first) {
        // One 400 naming the first field, its message listing every problem (fix them in one go).
        const err = new InvalidFieldError(problems.map((p) => `${p.field} ${p.message}`).join('; '))
        throw Object.assign(err, { field: first.field })
      }
      const { template, created } = await deps.templates.put(request.params.name, request.body.channels)
      return reply.code(created ? 201 : 200).send(template)
    },
  )

  app.get<{ Params: { name: string } }>(
    '/api/templates/:name',
    {
      schema: {
        summary: 'A template',
        tags: ['templates'],
        params: templateParams,
        response: { 200: templateSchema, ...errorResponses(400, 404, 503) },
      },
    },
    async (request) => {
      const template = await deps.templates.get(request.params.name)
      if (!template) throw templateNotFound(request.params.name)
      return template
    },
  )

  app.get(
    '/api/templates',
    {
      schema: {
        summary: 'Every template, by name',
        tags: ['templates'],
        response: {
          200: { type: 'object', properties: { templates: { type: 'array', items: templateSchema } } },
          ...errorResponses(503),
        },
      },
    },
    async () => ({ templates: await deps.templates.list() }),
  )
}
