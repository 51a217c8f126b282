import type { FastifyInstance } from 'fastify'
import { invalidField, userNotFound } from '../errors.ts'
import { parseId } from '../ids.ts'
import type { TimelineReader } from '../types.ts'
import { errorResponses, postSchema } from './schemas.ts'

export interface TimelineRoutesOptions {
  reader: TimelineReader
  /** Items per page when `?limit` is absent (TIMELINE_PAGE_DEFAULT). */
  pageDefault: number
  /** Largest `?limit` accepted (TIMELINE_PAGE_MAX). */
  pageMax: number
}

const pageBody = (rebuilding: boolean) => ({
  type: 'object',
  properties: {
    items: { type: 'array', items: postSchema },
    nextCursor: {
      type: ['string', 'null'],
      description: 'Pass as ?cursor for the next, older page; null at the end.',
    },
    ...(rebuilding ? { rebuilding: { type: 'boolean', const: true } } : {}),
  },
  required: ['items', 'nextCursor', ...(rebuilding ? ['rebuilding'] : [])],
})

/**
 * GET /api/users/:id/timeline?limit&cursor — a page of the home timeline, newest first. A cold
 * timeline that could not be rebuilt within REBUILD_WAIT_MS answers 206 with `rebuilding: true`
 * and Retry-After (Mastodon answers a returning user the same way) instead of holding the request.
 * Query values are checked here rather than coerced by the schema, so a bad one is a 400 naming
 * `query.limit` / `query.cursor` with the accepted range.
 */
export async function timelineRoutes(app: FastifyInstance, options: TimelineRoutesOptions) {
  const { reader, pageDefault, pageMax } = options
  app.get<{ Params: { id: string }; Querystring: { limit?: string; cursor?: string } }>(
    '/api/users/:id/timeline',
    { schema: timelineSchema(pageDefault, pageMax) },
    async (request, reply) => {
      const userId = parseId(request.params.id)
      if (userId === undefined) throw userNotFound(request.params.id)
      const limit = parseLimit(request.query.limit, pageDefault, pageMax)
      const { cursor: cursorText } = request.query
      const cursor = cursorText === undefined ? undefined : parseId(cursorText)
      if (cursorText !== undefined && cursor === undefined) {
        throw invalidField('query', 'cursor', 'must be a post id (a nextCursor of a previous page)')
      }
      const page = await reader.read(userId, cursor === undefined ? { limit } : { limit, cursor })
      if (page === null) throw userNotFound(userId)
      if (page.rebuilding) {
        reply.code(206).header('retry-after', '1')
        return { items: page.items, nextCursor: page.nextCursor, rebuilding: true }
      }
      return { items: page.items, nextCursor: page.nextCursor }
    },
  )
}

/** The route schema, built from the page limits (TIMELINE_PAGE_DEFAULT, TIMELINE_PAGE_MAX) its description states. */
function timelineSchema(pageDefault: number, pageMax: number) {
  return {
    summary: 'A page of a home timeline',
    description:
      "The posts of the accounts the user follows and the user's own, newest first, deleted ones excluded. " +
      'Cursor pagination is stable under concurrent posting (no item repeated or skipped across pages). ' +
      '206 + Retry-After while a cold timeline is being rebuilt.',
    tags: ['timeline'],
    params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
    querystring: {
      type: 'object',
      properties: {
        limit: { type: 'string', description: `Items per page, 1–${pageMax} (default ${pageDefault}).` },
        cursor: { type: 'string', description: "The previous page's nextCursor." },
      },
    },
    response: { 200: pageBody(false), 206: pageBody(true), ...errorResponses(400, 404, 503) },
  }
}

function parseLimit(text: string | undefined, pageDefault: number, pageMax: number): number {
  if (text === undefined) return pageDefault
  const limit = /^[0-9]{1,4}$/.test(text) ? Number(text) : Number.NaN
  if (!(limit >= 1 && limit <= pageMax))
    throw invalidField('query', 'limit', `must be an integer from 1 to ${pageMax}`)
  return limit
}
