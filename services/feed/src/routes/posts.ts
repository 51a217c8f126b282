import type { FastifyInstance } from 'fastify'
import { invalidField, postNotFound, userNotFound } from '../errors.ts'
import { parseId } from '../ids.ts'
import { isDeleted } from '../post-cache.ts'
import type { Post } from '../types.ts'
import { createPostBody, errorResponses, idParams, postSchema } from './schemas.ts'
import { afterCommit, countWrite, type WriteDeps } from './write-context.ts'

/** POST /api/users/:id/posts, DELETE /api/posts/:id, GET /api/posts/:id. */
export function postRoutes(app: FastifyInstance, deps: WriteDeps) {
  app.post<{ Params: { id: string }; Body: { text: string } }>(
    '/api/users/:id/posts',
    {
      schema: {
        summary: 'Publish a post',
        tags: ['posts'],
        params: idParams,
        body: createPostBody(deps.postTextMax),
        response: { 201: postSchema, ...errorResponses(400, 404, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const authorId = parseId(request.params.id)
      if (authorId === undefined) throw userNotFound(request.params.id)
      const { text } = request.body
      if (text.trim() === '') throw invalidField('body', 'text', 'must not be only whitespace')
      const { post } = await countWrite(deps.metrics, 'create_post', async () => {
        const created = await deps.posts.create(authorId, text)
        if (!created) throw userNotFound(authorId)
        return { post: created, outcome: 'done' as const }
      })
      // Awaited before the 201: the session LSN must be recorded before the author's next read,
      // or that read may go to a lagging replica and miss this post (pm14).
      await afterCommit({ metrics: deps.metrics, log: request.log }, 'create_post', {
        postCache: () => deps.postCache.putMany([post]),
        authorRecent: () => deps.store.addToAuthor(authorId, [post.id]),
        sessionLsn: () => deps.sessionLsn.recordWrite(authorId),
      })
      reply.code(201).header('location', `/api/posts/${post.id}`)
      return post satisfies Post
    },
  )

  app.delete<{ Params: { id: string } }>(
    '/api/posts/:id',
    {
      schema: {
        summary: 'Delete a post (idempotent)',
        tags: ['posts'],
        params: idParams,
        response: { 204: { type: 'null', description: 'Deleted (or already)' }, ...errorResponses(404, 503) },
      },
    },
    async (request, reply) => {
      const postId = parseId(request.params.id)
      if (postId === undefined) throw postNotFound(request.params.id)
      const result = await countWrite(deps.metrics, 'delete_post', async () => {
        const r = await deps.posts.delete(postId)
        if (r.kind === 'missing') throw postNotFound(postId)
        return { ...r, outcome: r.kind === 'deleted' ? ('done' as const) : ('noop' as const) }
      })
      // On a repeat too (no new event then): the effects are idempotent, and this repairs them if
      // the first delete's did not land. Timelines are cleaned by the worker from the event.
      await afterCommit({ metrics: deps.metrics, log: request.log }, 'delete_post', {
        tombstone: () => deps.postCache.putTombstone(postId),
        authorRecent: () => deps.store.removeFromAuthor(result.authorId, [postId]),
        sessionLsn: () => deps.sessionLsn.recordWrite(result.authorId),
      })
      return reply.code(204).send()
    },
  )

  app.get<{ Params: { id: string } }>(
    '/api/posts/:id',
    {
      schema: {
        summary: 'A post',
        tags: ['posts'],
        params: idParams,
        response: { 200: postSchema, ...errorResponses(404, 503) },
      },
    },
    async (request) => {
      const postId = parseId(request.params.id)
      if (postId === undefined) throw postNotFound(request.params.id)
      const cached = await cachedPost(deps, postId, request.log)
      if (cached === 'deleted') throw postNotFound(postId)
      if (cached) return cached
      const post = await deps.posts.get(postId)
      if (!post) throw postNotFound(postId)
      // Filling the cache is an optimisation: a failure only means the next read asks Postgres.
      await deps.postCache.putMany([post]).catch((err: unknown) => {
        request.log.warn({ err, postId }, 'post cache fill failed')
      })
      return post
    },
  )
}

/** The post from the cache, 'deleted' for a tombstone, undefined on a miss or a Redis failure. */
async function cachedPost(
  deps: WriteDeps,
  postId: string,
  log: { warn(obj: object, msg: string): void },
): Promise<Post | 'deleted' | undefined> {
  try {
    const found = (await deps.postCache.getMany([postId])).get(postId)
    if (!found) return undefined
    return isDeleted(found) ? 'deleted' : found
  } catch (err) {
    // Redis down or slow: Postgres is the truth, so the read still answers.
    log.warn({ err, postId }, 'post cache read failed; reading Postgres')
    return undefined
  }
}
