import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { invalidField, userNotFound } from '../errors.ts'
import { parseId } from '../ids.ts'
import type { FollowChange } from '../repositories/follows.ts'
import { errorResponses, followParams } from './schemas.ts'
import { afterCommit, countWrite, type WriteDeps } from './write-context.ts'

type FollowParams = { id: string; targetId: string }

/**
 * PUT (follow) and DELETE (unfollow) `/api/users/:id/follows/:targetId`: 204 whether the edge
 * changed or was already so, 404 for an unknown (or malformed) id, 400 for a self-follow.
 */
export function followRoutes(app: FastifyInstance, deps: WriteDeps) {
  const schema = (summary: string) => ({
    summary,
    tags: ['follows'],
    params: followParams,
    response: {
      204: { type: 'null', description: 'Done (or already so)' },
      ...errorResponses(400, 404, 503),
    },
  })

  app.put<{ Params: FollowParams }>(
    '/api/users/:id/follows/:targetId',
    { schema: schema('Follow a user (idempotent)') },
    async (request, reply) => {
      const { followerId, targetId } = parseFollow(request.params)
      const change = await countWrite(deps.metrics, 'follow', async () =>
        applied(await deps.follows.follow(followerId, targetId), request.params),
      )
      await afterFollowChange(deps, request.log, 'follow', followerId, targetId, change.followeeFollowerCount)
      return reply.code(204).send()
    },
  )

  app.delete<{ Params: FollowParams }>(
    '/api/users/:id/follows/:targetId',
    { schema: schema('Unfollow a user (idempotent)') },
    async (request, reply) => {
      const { followerId, targetId } = parseFollow(request.params)
      const change = await countWrite(deps.metrics, 'unfollow', async () =>
        applied(await deps.follows.unfollow(followerId, targetId), request.params),
      )
      await afterFollowChange(
        deps,
        request.log,
        'unfollow',
        followerId,
        targetId,
        change.followeeFollowerCount,
      )
      return reply.code(204).send()
    },
  )
}

function parseFollow(params: FollowParams): { followerId: string; targetId: string } {
  const followerId = parseId(params.id)
  if (followerId === undefined) throw userNotFound(params.id, 'id')
  const targetId = parseId(params.targetId)
  if (targetId === undefined) throw userNotFound(params.targetId, 'targetId')
  if (followerId === targetId) throw invalidField('params', 'targetId', 'must not be the user itself')
  return { followerId, targetId }
}

function applied(change: FollowChange, params: FollowParams) {
  if (change.kind === 'missing') {
    throw change.which === 'follower'
      ? userNotFound(params.id, 'id')
      : userNotFound(params.targetId, 'targetId')
  }
  return { ...change, outcome: change.changed ? ('done' as const) : ('noop' as const) }
}

/**
 * After a follow or unfollow committed: merge the target's newest posts into the follower's
 * timeline (or take them out), forget the follower's followed-celebrities list, and record the
 * follower's commit for read-your-writes. Run on a repeat too: it changes nothing when the first
 * call's effects landed, and repairs them when they did not.
 *
 * A celebrity's posts (hybridFanout on, follower_count ≥ threshold) are not merged on follow: the
 * reader merges them at read time. An unfollow removes them whatever the target's count, because
 * the timeline may hold posts pushed while the target was still below the threshold (or while
 * hybridFanout was off), and a ZREM of absent ids costs nothing.
 */
async function afterFollowChange(
  deps: WriteDeps,
  log: FastifyBaseLogger,
  op: 'follow' | 'unfollow',
  followerId: string,
  targetId: string,
  targetFollowerCount: number,
): Promise<void> {
  const celebrity = deps.mitigations.current.hybridFanout && targetFollowerCount >= deps.celebrityThreshold
  await afterCommit({ metrics: deps.metrics, log }, op, {
    timeline: async () => {
      if (op === 'follow' && celebrity) return
      const ids = await deps.posts.newestIds(targetId, deps.timelineCap)
      if (op === 'follow') await deps.store.follow(followerId, targetId, ids)
      else await deps.store.unfollow(followerId, targetId, ids)
    },
    followedCelebrities: () => deps.redis.del(deps.keys.followedCelebrities(followerId)),
    sessionLsn: () => deps.sessionLsn.recordWrite(followerId),
  })
}
