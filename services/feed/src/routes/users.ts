import type { FastifyInstance } from 'fastify'
import type { User } from '../types.ts'
import { createUserBody, errorResponses, userSchema } from './schemas.ts'
import { afterCommit, countWrite, type WriteDeps } from './write-context.ts'

export function userRoutes(app: FastifyInstance, deps: WriteDeps) {
  app.post<{ Body: { handle: string } }>(
    '/api/users',
    {
      schema: {
        summary: 'Create a user',
        tags: ['users'],
        body: createUserBody,
        response: { 201: userSchema, ...errorResponses(400, 409, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const { user } = await countWrite(deps.metrics, 'create_user', async () => ({
        user: await deps.users.create(request.body.handle),
        outcome: 'done' as const,
      }))
      // A new user is active: their (empty) timeline exists from the start, so the fan-out
      // pushes to it and their first read does not take the rebuild path. If this fails, the
      // first read rebuilds it (after-commit rule in write-context.ts).
      await afterCommit({ metrics: deps.metrics, log: request.log }, 'create_user', {
        timeline: () => deps.store.buildTimeline(user.id, []),
      })
      reply.code(201).header('location', `/api/users/${user.id}`)
      return user satisfies User
    },
  )
}
