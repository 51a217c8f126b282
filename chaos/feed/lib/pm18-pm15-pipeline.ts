/**
 * What pm18 and pm15 share: each runs the feed in a world of its own — a Postgres schema, a Redis
 * key prefix, a Kafka topic and a consumer group no other experiment or test uses — so a run never
 * sees another's users, nor the events an earlier mode left in Kafka (a naive pm18 ends with a
 * fan-out backlog of hundreds of thousands of deliveries: the next mode must not inherit it).
 * Also: the authors file the shared k6 script reads, and the drain check both settle on.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { FeedFixture } from '@faultline/feed/fixture'
import type { HookContext, LabContext } from '@faultline/lab'

export interface IsolatedFeed {
  id: string
  /** Every user the experiment seeds has a handle starting with it; the reset removes them by it. */
  handlePrefix: string
  fixture: FeedFixture
  topic: string
  groupId: string
  /** Env of every process: the schema, key prefix, topic and group above. */
  env: Record<string, string>
  /** Where setup writes `{ authors }` for the load script (chaos/feed/load/pm18-pm15-steady-posts.js). */
  authorsFile: string
}

export function isolatedFeed(id: 'pm18' | 'pm15'): IsolatedFeed {
  const topic = `lab-${id}-posts`
  const groupId = `lab-${id}-fanout`
  const fixture = new FeedFixture({
    schema: `lab_${id}`,
    keyPrefix: `lab-${id}`,
    postsTopic: topic,
    fanoutGroupId: groupId,
  })
  return {
    id,
    handlePrefix: `${id}u`,
    fixture,
    topic,
    groupId,
    env: {
      DB_SCHEMA: fixture.schema,
      REDIS_KEY_PREFIX: fixture.keys.prefix,
      POSTS_TOPIC: topic,
      FANOUT_GROUP_ID: groupId,
    },
    authorsFile: fileURLToPath(new URL(`../../../.faultline/lab/${id}-authors.json`, import.meta.url)),
  }
}

/** The load script's authors (user ids), written in setup, read by k6 when it starts. */
export function writeAuthorsFile(world: IsolatedFeed, authors: readonly string[]): void {
  mkdirSync(dirname(world.authorsFile), { recursive: true })
  writeFileSync(world.authorsFile, JSON.stringify({ authors }))
}

/** Before the services start: the users of earlier runs, their keys, and the events in Kafka. */
export async function resetFeed(ctx: HookContext, world: IsolatedFeed): Promise<void> {
  const removed = await world.fixture.reset(ctx, { handlePrefix: world.handlePrefix })
  const kafka = await skipEarlierEvents(ctx, world)
  ctx.log(
    `reset: ${removed.users} users, ${removed.posts} posts, ${removed.keys} Redis keys removed; ${kafka}`,
  )
}

/**
 * Moves the fan-out group's committed offsets to the end of the topic, so the next mode's workers
 * start after whatever an earlier run published (a naive pm18 leaves hundreds of thousands of
 * deliveries behind; a worker starting at them is slow from its first second). Runs in `reset`,
 * when no worker is a member (the lab stopped the previous mode's processes; a killed member may
 * linger until its session expires, hence the retries). Nothing to do before the topic exists.
 */
export async function skipEarlierEvents(ctx: HookContext, world: IsolatedFeed): Promise<string> {
  if (!(await ctx.kafka.topics()).includes(world.topic)) return 'no topic yet'
  let lastError: unknown
  for (let attempt = 0; attempt < 30; attempt++) {
    try {
      const skipped = await ctx.kafka.moveGroupToEnd(world.groupId, world.topic)
      return `group moved to the end of the topic (${skipped} earlier events skipped)`
    } catch (err) {
      // "The consumer group must have no running instances": a member whose session has not expired.
      lastError = err
      await sleep(1000)
    }
  }
  throw new Error(`could not move ${world.groupId} to the end of ${world.topic}: ${String(lastError)}`)
}

/**
 * Waits until the fan-out group is formed — `members` workers joined, the group stable — so the
 * load does not start in the middle of the first rebalance (a worker that answers /healthz may
 * still be joining). Throws after `timeoutMs`.
 */
export async function waitForGroup(
  ctx: HookContext,
  world: IsolatedFeed,
  members: number,
  timeoutMs = 60_000,
): Promise<void> {
  const admin = await ctx.kafka.admin()
  const giveUpAt = Date.now() + timeoutMs
  let last = 'not described yet'
  while (Date.now() < giveUpAt) {
    const { groups } = await admin.describeGroups([world.groupId])
    const group = groups[0]
    last = `${group?.state ?? 'unknown'} with ${group?.members.length ?? 0} members`
    if (group?.state === 'Stable' && group.members.length === members) {
      ctx.log(`fan-out group ${world.groupId}: ${last}`)
      return
    }
    await sleep(250)
  }
  throw new Error(`the fan-out group ${world.groupId} did not form within ${timeoutMs / 1000} s (${last})`)
}

/** How far the pipeline is behind: unpublished rows at the relay, uncommitted messages of the group. */
export async function pipelineBacklog(
  ctx: LabContext,
  world: IsolatedFeed,
): Promise<{ unpublished: number; unconsumed: number }> {
  const unpublished = (await world.fixture.outboxBacklog(ctx.pg)).rows
  const unconsumed = await world.fixture.fanoutLag(ctx.kafka)
  return { unpublished, unconsumed }
}

/**
 * A `settleUntil` condition: the relay has published everything and the group has committed every
 * message, twice in a row a second apart (a worker that commits before applying — pm15 naive — can
 * report no lag while its last event is still being applied; the second reading lets it finish).
 */
export function drained(world: IsolatedFeed): (ctx: LabContext) => Promise<boolean> {
  // Per mode, with the time of the reading: a quiet reading from another settle does not count.
  const quiet = new Map<string, { sinceMs: number; lastMs: number }>()
  return async (ctx) => {
    const { unpublished, unconsumed } = await pipelineBacklog(ctx, world)
    const now = Date.now()
    if (unpublished > 0 || unconsumed > 0) {
      quiet.delete(ctx.mode)
      return false
    }
    const before = quiet.get(ctx.mode)
    const sinceMs = before && now - before.lastMs < 3000 ? before.sinceMs : now
    quiet.set(ctx.mode, { sinceMs, lastMs: now })
    return now - sinceMs >= 900
  }
}

/** A small deterministic generator (mulberry32): the same seed draws the same graph every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
