/**
 * pm18's graph, seeded straight into Postgres through the fixture (COPY) and made active in Redis:
 *
 * - user 0 is the celebrity, followed by every other user;
 * - users 1…regularAuthors are the regular authors k6 posts as, then `probeAuthors` probe authors
 *   the experiment posts as itself; each of them has `followersEach` followers drawn at random from
 *   the rest (the celebrity's followers);
 * - every user's timeline exists (active), so a naive celebrity post is pushed to all of them.
 *
 * The three followers with the highest ids read the celebrity's posts through the API: a naive
 * fan-out pages followers in id order, so they are the last ones it reaches.
 */
import type { HookContext } from '@faultline/lab'
import { type IsolatedFeed, seededRandom } from './pm18-pm15-pipeline.ts'

export interface Pm18WorldSpec {
  /** Followers of the celebrity (every other user). */
  followers: number
  regularAuthors: number
  probeAuthors: number
  /** Followers of each regular and probe author. */
  followersEach: number
}

export interface Pm18World {
  celebrityId: string
  regularAuthors: string[]
  /** Probe authors, each with the follower whose timeline its probe posts are looked for in. */
  probes: { authorId: string; followerId: string }[]
  watchers: string[]
  users: number
}

/** Follows by user index `[follower, author]` for the regular and probe authors. */
function authorEdges(spec: Pm18WorldSpec, users: number): Array<[number, number]> {
  const random = seededRandom(18)
  const firstFollower = 1 + spec.regularAuthors + spec.probeAuthors
  const pool = users - firstFollower
  const edges: Array<[number, number]> = []
  for (let author = 1; author < firstFollower; author++) {
    const chosen = new Set<number>()
    while (chosen.size < Math.min(spec.followersEach, pool))
      chosen.add(firstFollower + Math.floor(random() * pool))
    for (const follower of chosen) edges.push([follower, author])
  }
  return edges
}

export async function seedPm18World(
  ctx: HookContext,
  world: IsolatedFeed,
  spec: Pm18WorldSpec,
): Promise<Pm18World> {
  const users = spec.followers + 1
  const edges = authorEdges(spec, users)
  const began = Date.now()
  const seeded = await world.fixture.seedGraph(ctx.pg, {
    handlePrefix: world.handlePrefix,
    users,
    celebrities: 1,
    celebrityFollowers: spec.followers,
    edges,
    randomSeed: 18,
  })
  const seededMs = Date.now() - began
  const active = await world.fixture.activateTimelines(ctx, seeded.userIds)
  ctx.log(
    `seeded ${users} users and ${seeded.follows} follows in ${seededMs} ms; ${active} timelines active after ${Date.now() - began} ms`,
  )
  const id = (index: number) => seeded.userIds[index] as string
  const followersOf = new Map<number, number[]>()
  for (const [follower, author] of edges)
    followersOf.set(author, [...(followersOf.get(author) ?? []), follower])
  const firstProbe = 1 + spec.regularAuthors
  return {
    celebrityId: id(0),
    regularAuthors: Array.from({ length: spec.regularAuthors }, (_, i) => id(1 + i)),
    probes: Array.from({ length: spec.probeAuthors }, (_, i) => {
      const author = firstProbe + i
      return { authorId: id(author), followerId: id(Math.max(...(followersOf.get(author) ?? []))) }
    }),
    watchers: [users - 1, users - 2, users - 3].map(id),
    users,
  }
}
