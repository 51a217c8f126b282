/**
 * pm15's graph, seeded straight into Postgres through the fixture (COPY) and made active in Redis:
 * a pool of readers; regular authors (k6 posts as them), each followed by a few readers; "wide"
 * authors, each followed by every reader, whose posts are the burst the fault action makes — each
 * one a fan-out of a whole pool, so a worker's batch of them takes long enough to be stopped in.
 * No author reaches FANOUT_CELEBRITY_THRESHOLD: every post is pushed in both modes.
 */
import type { HookContext } from '@faultline/lab'
import { type IsolatedFeed, seededRandom } from './pm18-pm15-pipeline.ts'

export interface Pm15WorldSpec {
  readers: number
  regularAuthors: number
  /** Followers of each regular author, drawn from the readers. */
  followersEach: number
  /** Authors followed by every reader. */
  wideAuthors: number
}

export interface Pm15World {
  regularAuthors: string[]
  wideAuthors: string[]
  /** Every seeded user: the timelines the verdict checks. */
  userIds: string[]
}

/** Follows by user index `[follower, author]`: authors first (regular, then wide), then the readers. */
function edgesOf(spec: Pm15WorldSpec): Array<[number, number]> {
  const random = seededRandom(15)
  const firstReader = spec.regularAuthors + spec.wideAuthors
  const edges: Array<[number, number]> = []
  for (let author = 0; author < spec.regularAuthors; author++) {
    const chosen = new Set<number>()
    while (chosen.size < Math.min(spec.followersEach, spec.readers))
      chosen.add(firstReader + Math.floor(random() * spec.readers))
    for (const reader of chosen) edges.push([reader, author])
  }
  for (let author = spec.regularAuthors; author < firstReader; author++) {
    for (let reader = firstReader; reader < firstReader + spec.readers; reader++) edges.push([reader, author])
  }
  return edges
}

export async function seedPm15World(
  ctx: HookContext,
  world: IsolatedFeed,
  spec: Pm15WorldSpec,
): Promise<Pm15World> {
  const users = spec.regularAuthors + spec.wideAuthors + spec.readers
  const began = Date.now()
  const seededGraph = await world.fixture.seedGraph(ctx.pg, {
    handlePrefix: world.handlePrefix,
    users,
    edges: edgesOf(spec),
    randomSeed: 15,
  })
  const active = await world.fixture.activateTimelines(ctx, seededGraph.userIds)
  ctx.log(
    `seeded ${users} users and ${seededGraph.follows} follows; ${active} timelines active after ${Date.now() - began} ms`,
  )
  const ids = seededGraph.userIds
  return {
    regularAuthors: ids.slice(0, spec.regularAuthors),
    wideAuthors: ids.slice(spec.regularAuthors, spec.regularAuthors + spec.wideAuthors),
    userIds: ids,
  }
}
