/**
 * The threshold benchmark's state, isolated from everything else (its own Postgres schema, Redis
 * key prefix, Kafka topic and consumer group): one graph seeded once by the seed code (src/seed,
 * COPY), reset to "every user active, no post" before each threshold, measured (timeline memory,
 * followed celebrities of the readers), and removed at the end.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { escapeGlob, unlinkMatching } from '@faultline/infra'
import type { Redis } from 'ioredis'
import { Kafka, logLevel } from 'kafkajs'
import type pg from 'pg'
import { keysOf, unlinkAll } from '../src/fixture/reset.ts'
import { FeedFixture } from '../src/fixture.ts'
import { runMigrations } from '../src/migrate.ts'
import type { SeededGraph, SeedSpec } from '../src/seed/seed-graph.ts'

/** What the started processes get (it overrides bench-target's benchIsolationEnv: fanout.ts's). */
export const thresholdIsolationEnv = {
  DB_SCHEMA: 'feed_bench_thr',
  REDIS_KEY_PREFIX: 'feed-bench-thr',
  POSTS_TOPIC: 'posts-bench-thr',
  FANOUT_GROUP_ID: 'feed-bench-thr',
} as const

export const thresholdFixture = new FeedFixture({
  schema: thresholdIsolationEnv.DB_SCHEMA,
  keyPrefix: thresholdIsolationEnv.REDIS_KEY_PREFIX,
  postsTopic: thresholdIsolationEnv.POSTS_TOPIC,
  fanoutGroupId: thresholdIsolationEnv.FANOUT_GROUP_ID,
})

const schema = thresholdIsolationEnv.DB_SCHEMA

/** Clients without search_path or key prefix (the fixture names the schema and builds the keys). */
export interface StateClients {
  pg: pg.Pool
  redis: Redis
  kafkaBrokers: string[]
}

/**
 * A fresh schema (whatever an interrupted run left is dropped first: the schema is this
 * benchmark's alone), the migrations, then the graph by COPY.
 */
export async function seedThresholdGraph(
  clients: StateClients,
  spec: Omit<SeedSpec, 'handlePrefix'>,
): Promise<SeededGraph> {
  await removeThresholdState(clients)
  await runMigrations({ pool: clients.pg, schema })
  return thresholdFixture.seedGraph(clients.pg, { ...spec, handlePrefix: 'thr' })
}

/**
 * Before each threshold, with no process running: the previous threshold's posts and outbox rows
 * gone, their Redis keys too (cached posts, timelines, recent sets, followed-celebrity lists), and
 * every user's timeline built again from Postgres — empty, with its sentinel and TTL — so every
 * push is a real insert and every threshold starts from the same state.
 */
export async function resetThresholdState(
  clients: StateClients,
  userIds: readonly string[],
): Promise<number> {
  const { rows } = await clients.pg.query<{ id: string }>(`SELECT id::text FROM ${schema}.posts`)
  await clients.pg.query(`TRUNCATE ${schema}.posts, ${schema}.outbox`)
  await unlinkAll(
    clients.redis,
    keysOf(
      thresholdFixture.keys,
      userIds,
      rows.map((r) => r.id),
    ),
  )
  return thresholdFixture.activateTimelines(clients, userIds)
}

/** Bytes Redis reports (MEMORY USAGE) for these keys, summed; pipelined 1000 at a time. */
export async function memoryUsage(redis: Redis, keys: readonly string[]): Promise<number> {
  let bytes = 0
  for (let i = 0; i < keys.length; i += 1000) {
    const pipe = redis.pipeline()
    for (const key of keys.slice(i, i + 1000)) pipe.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')
    for (const [err, value] of (await pipe.exec()) ?? []) {
      if (err) throw err
      bytes += typeof value === 'number' ? value : 0
    }
  }
  return bytes
}

export function timelineKeys(userIds: readonly string[]): string[] {
  return userIds.map((u) => thresholdFixture.keys.timeline(u))
}

export function recentSetKeys(userIds: readonly string[]): string[] {
  return userIds.map((u) => thresholdFixture.keys.authorPosts(u))
}

/**
 * The mean number of followed authors with ≥ `threshold` followers over `readers`: the recent sets
 * each of their reads merges (the API has no metric of it; this is the query its
 * followed-celebrities list comes from).
 */
export async function meanFollowedCelebrities(
  pgPool: pg.Pool,
  readers: readonly string[],
  threshold: number,
): Promise<number> {
  const { rows } = await pgPool.query<{ mean: number | null }>(
    `SELECT avg(n)::float8 AS mean FROM (
       SELECT (SELECT count(*) FROM ${schema}.follows f JOIN ${schema}.users u ON u.id = f.followee_id
                WHERE f.follower_id = r AND u.follower_count >= $2) AS n
         FROM unnest($1::bigint[]) AS r) per_reader`,
    [readers, threshold],
  )
  return rows[0]?.mean ?? 0
}

/** Everything the benchmark created: the schema, every key of its prefix, its topic and group. */
export async function removeThresholdState(clients: StateClients): Promise<void> {
  await clients.pg.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await unlinkMatching(clients.redis, `${escapeGlob(thresholdIsolationEnv.REDIS_KEY_PREFIX)}:*`)
  const admin = new Kafka({
    clientId: 'feed-threshold-bench',
    brokers: clients.kafkaBrokers,
    logLevel: logLevel.NOTHING,
  }).admin()
  await admin.connect()
  try {
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId)
    if (groups.includes(thresholdIsolationEnv.FANOUT_GROUP_ID))
      await admin.deleteGroups([thresholdIsolationEnv.FANOUT_GROUP_ID])
    if ((await admin.listTopics()).includes(thresholdIsolationEnv.POSTS_TOPIC)) {
      await admin.deleteTopics({ topics: [thresholdIsolationEnv.POSTS_TOPIC] })
      // Deletion is asynchronous: the next run's processes would otherwise find it half gone.
      for (let i = 0; i < 50 && (await admin.listTopics()).includes(thresholdIsolationEnv.POSTS_TOPIC); i++)
        await sleep(200)
    }
  } finally {
    await admin.disconnect()
  }
}
