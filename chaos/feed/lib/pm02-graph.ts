/**
 * pm02's users: a graph seeded straight into Postgres by COPY (the fixture's `seedGraph`), every
 * user following exactly `follows` others on a ring and having `postsPerUser` posts, so every
 * timeline rebuild costs Postgres the same (followees × posts index rows, then a top-800 sort) —
 * no lucky light user to warm while the heavy ones time out, and no heavy one to fail the
 * hardened run. The graph is kept between runs and modes (reseeding costs seconds, and nothing
 * writes to it): the users file records the spec, and a run reuses the graph when the spec is the
 * same and every user is still there; otherwise it removes the old one and seeds again.
 *
 * Before the load each mode waits until the replica, which serves the rebuilds, has replayed the
 * seed, then makes every user active the way a user does — one timeline read each through the
 * API, a few at a time (the service rebuilds the timeline, and the page's posts fill the post
 * cache).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { FeedApiError, fixture } from '@faultline/feed/fixture'
import type { HookContext } from '@faultline/lab'
import { readUsersFile, usersFile, writeUsersFile } from './pm14-users-file.ts'

export const handlePrefix = 'pm02_'
export const pm02UsersFile = usersFile('pm02')

export interface GraphShape {
  users: number
  follows: number
  postsPerUser: number
}

/** User i follows users i+1 … i+follows (mod users): everyone has the same followees' load. */
function ringEdges(shape: GraphShape): [number, number][] {
  const edges: [number, number][] = []
  for (let i = 0; i < shape.users; i++) {
    for (let k = 1; k <= shape.follows; k++) edges.push([i, (i + k) % shape.users])
  }
  return edges
}

function sameShape(a: unknown, b: GraphShape): boolean {
  const x = a as Partial<GraphShape> | undefined
  return x?.users === b.users && x.follows === b.follows && x.postsPerUser === b.postsPerUser
}

/** The seeded users' ids, seeding them first unless the last run's graph is there with this shape. */
export async function seededUsers(ctx: HookContext, shape: GraphShape): Promise<string[]> {
  const previous = readUsersFile(pm02UsersFile)
  if (previous && sameShape(previous.about, shape)) {
    const present = await fixture.followerCounts(ctx.pg, previous.users)
    if (present.size === shape.users) {
      ctx.log(`graph of ${shape.users} users kept from an earlier run`)
      return previous.users
    }
  }
  const removed = await fixture.reset(ctx, { handlePrefix })
  if (removed.users > 0) ctx.log(`removed an earlier graph: ${removed.users} users, ${removed.posts} posts`)
  const began = Date.now()
  const graph = await fixture.seedGraph(ctx.pg, {
    handlePrefix,
    users: shape.users,
    edges: ringEdges(shape),
    postsPerUser: shape.postsPerUser,
    randomSeed: 2,
  })
  ctx.log(
    `seeded ${shape.users} users, ${graph.follows} follows, ${graph.posts} posts by COPY in ${((Date.now() - began) / 1000).toFixed(1)} s`,
  )
  writeUsersFile(pm02UsersFile, graph.userIds, shape)
  return graph.userIds
}

/**
 * One timeline read per user through the API (`concurrency` at a time, round-robin over `urls`),
 * asked again while it answers 206, or 503 (a rebuild over pages the replica has not cached yet
 * may pass the statement timeout the first time): every timeline is built and its first page's
 * posts cached.
 */
export async function activateAndWarm(
  urls: readonly string[],
  userIds: readonly string[],
  options: { pageSize: number; concurrency: number },
): Promise<void> {
  let next = 0
  const lane = async () => {
    while (next < userIds.length) {
      const i = next++
      await readUntilBuilt(urls[i % urls.length] as string, userIds[i] as string, options.pageSize)
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, lane))
}

async function readUntilBuilt(url: string, userId: string, pageSize: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      if ((await fixture.timelinePage(url, userId, { limit: pageSize })).status === 200) return
    } catch (err) {
      if (!(err instanceof FeedApiError && err.status === 503) || attempt >= 20) throw err
    }
    if (attempt >= 50) throw new Error(`timeline of ${userId} still rebuilding after ${attempt} reads`)
    await sleep(100)
  }
}

/**
 * Waits until the replica, which serves the rebuilds, has replayed the seed: within 64 kB of the
 * primary's position (other work may keep writing a little; the seed is megabytes of WAL).
 */
export async function waitForReplica(ctx: HookContext, timeoutMs = 60_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs
  for (;;) {
    const behind = await fixture.replicaLagBytes(ctx.pg, ctx.pgReplica)
    if (behind < 64 * 1024) return
    if (Date.now() > giveUpAt)
      throw new Error(`the replica is still ${behind} bytes behind after ${timeoutMs} ms`)
    await sleep(200)
  }
}
