/**
 * The feed as the bench measures it (`node packages/bench/src/knee.ts --system feed`): the read
 * knee — the first page of a warm home timeline, `GET /api/users/{id}/timeline?limit=20` — with the
 * whole system running as deployed (API, outbox relay, fan-out worker), its ceiling the bare
 * Fastify hello-world measured in the same run (`packages/bench/src/redirect-vs-fastify.ts
 * --system feed`), and the feed's own saturation signals next to the bench's generic ones (API
 * event loop, Redis main thread, Postgres pool, machine, load generator). The bench finds this file
 * by convention (services/<system>/src/bench-target.ts); see packages/bench/src/target.ts.
 *
 * A warm read is Redis only: the timeline page (one Lua script), the followed-celebrities cache,
 * the read-your-writes check (one EXISTS) and one MGET of the posts. The seed therefore builds the
 * graph through the API (users, posts, then follows, whose merge fills every timeline without
 * waiting for the fan-out), reads each timeline once, and forgets the seeded users' session LSNs:
 * their writes are then older than RYW_WINDOW_S, as for the typical reader, instead of costing
 * every read a Postgres query for five minutes after the seed.
 */
import { join } from 'node:path'
import {
  type Child,
  defineBenchTarget,
  named,
  type RunningSystem,
  type StartSystemOptions,
  startChild,
  startNodeSystem,
  stopChild,
  waitForHttp,
  warmPaths,
} from '@faultline/bench'
import { directEnv, freePort, repoRoot } from '@faultline/infra'
import { inParallel } from '@faultline/resilience'
import { Redis } from 'ioredis'
import { Keys } from './keys.ts'

const feedDir = join(repoRoot, 'services', 'feed')

/**
 * Its own Postgres schema, Redis key prefix, Kafka topic and consumer group, so a benchmark never
 * reads or disturbs a test's or an experiment's state (or `./faultline up feed`'s) — and vice
 * versa. The replica is reached directly too (the bench's directConnections has no replica URL).
 */
export const benchIsolationEnv = {
  DB_SCHEMA: 'feed_bench',
  REDIS_KEY_PREFIX: 'feed-bench',
  POSTS_TOPIC: 'posts-bench',
  FANOUT_GROUP_ID: 'feed-bench',
} as const

/** The share of timeline reads answered 206 (a cold timeline still rebuilding) that is saturation. */
const rebuildingShare = 0.01
/** Postgres processes' CPU, in cores, that is saturation (as for the other single components). */
const postgresCores = 0.9

export interface FeedProcesses extends RunningSystem {
  relay: Child
  /** The fan-out worker's and the relay's own HTTP (probes and /metrics). */
  workerUrl: string
  relayUrl: string
}

/**
 * Starts the three processes on loopback: the API on `options.port` (startNodeSystem; it migrates
 * the schema at boot), then the fan-out worker and the outbox relay on free ports; resolves once
 * all three answer /readyz (the worker's once it joined its group). `extraEnv` goes to all three
 * (a benchmark's FANOUT_CELEBRITY_THRESHOLD, say).
 */
export async function startFeed(
  options: StartSystemOptions,
  extraEnv: Record<string, string> = {},
): Promise<FeedProcesses> {
  const connections = options.viaToxiproxy ? {} : directConnectionsWithReplica()
  const env: Record<string, string> = { ...benchIsolationEnv, ...extraEnv }
  const api = await startNodeSystem(
    { name: 'feed', apiEntry: join(feedDir, 'src', 'server.ts'), env: { ...connections, ...env } },
    options,
  )
  const started: { child: Child; url: string }[] = []
  try {
    for (const role of ['worker', 'relay'] as const) {
      if (role === 'worker' && options.worker === false) continue
      started.push(await startBackground(role, options, { ...connections, ...env }))
    }
  } catch (err) {
    for (const s of started) await stopChild(s.child)
    await api.stop()
    throw err
  }
  const [worker, relay] = options.worker === false ? [undefined, started[0]] : started
  if (relay === undefined) throw new Error('feed: the relay did not start')
  return {
    ...api,
    worker: worker?.child,
    relay: relay.child,
    workerUrl: worker?.url ?? '',
    relayUrl: relay.url,
    stop: async () => {
      await api.stop()
      for (const s of started) await stopChild(s.child)
    },
  }
}

/** The worker or the relay on a free loopback port, once its /readyz answers. */
async function startBackground(
  role: 'worker' | 'relay',
  options: StartSystemOptions,
  env: Record<string, string>,
): Promise<{ child: Child; url: string }> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const child = startChild({
    name: `feed-${role}`,
    command: process.execPath,
    args: [join(feedDir, 'src', `${role}.ts`)],
    // The instance id ends like the API's (bench-<pid>), so the sampler's pg_stat_activity pattern
    // counts these connections as this run's too.
    env: {
      HOST: '127.0.0.1',
      PORT: String(port),
      ...env,
      INSTANCE_ID: `${role}-bench-${process.pid}`,
      ...options.env,
    },
    cwd: repoRoot,
    logFile: join(options.logDir, `feed-${role}.log`),
    ...(options.cpus ? { cpus: options.cpus } : {}),
  })
  try {
    await waitForHttp(`${url}/readyz`, { child, timeoutMs: options.startTimeoutMs ?? 60_000 })
  } catch (err) {
    await stopChild(child)
    throw err
  }
  return { child, url }
}

function directConnectionsWithReplica(): Record<string, string> {
  const env = directEnv()
  return {
    DATABASE_URL: env.DATABASE_URL as string,
    DATABASE_REPLICA_URL: env.DATABASE_REPLICA_URL as string,
    REDIS_URL: env.REDIS_URL as string,
    KAFKA_BROKERS: env.KAFKA_BROKERS as string,
  }
}

/** One JSON request; resolves with the status and the parsed body (or undefined). */
export async function call(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  })
  const text = await res.text()
  let parsed: unknown
  try {
    parsed = text === '' ? undefined : JSON.parse(text)
  } catch {
    parsed = text.slice(0, 200)
  }
  return { status: res.status, body: parsed }
}

/**
 * `work(i)` for i < count, 16 at a time; returns how many resolved `true`. Throws when fewer than
 * 99 % did, with the first failure's reason: a run over a fraction of its graph would measure
 * something else.
 */
async function mostly(
  what: string,
  count: number,
  work: (i: number) => Promise<string | true>,
): Promise<number> {
  let ok = 0
  let first: string | undefined
  await inParallel(count, 16, async (i) => {
    const outcome = await work(i).catch((err: Error) => err.message)
    if (outcome === true) ok++
    else first ??= outcome
  })
  if (ok < count * 0.99)
    throw new Error(`${what}: only ${ok} of ${count} succeeded (${first ?? 'no reason'})`)
  return ok
}

/** Users through the API (POST /api/users), handles unique to this run; returns their ids. */
export async function createUsers(baseUrl: string, count: number, tag: string): Promise<string[]> {
  const runId = Date.now().toString(36)
  const ids: string[] = []
  await mostly('creating users', count, async (i) => {
    const r = await call(baseUrl, 'POST', '/api/users', { handle: `${tag}_${runId}_${i}`.slice(0, 30) })
    const id = (r.body as { id?: unknown } | undefined)?.id
    if (r.status !== 201 || typeof id !== 'string')
      return `POST /api/users → ${r.status} ${JSON.stringify(r.body)}`
    ids.push(id)
    return true
  })
  return ids
}

/** `follower` follows `target` (PUT, 204) for each pair. */
export async function follows(baseUrl: string, pairs: readonly (readonly [string, string])[]): Promise<void> {
  await mostly('following', pairs.length, async (i) => {
    const [follower, target] = pairs[i] as readonly [string, string]
    const r = await call(baseUrl, 'PUT', `/api/users/${follower}/follows/${target}`)
    return r.status === 204 ? true : `PUT follows → ${r.status} ${JSON.stringify(r.body)}`
  })
}

/** `postsEach` posts by each author (POST /api/users/:id/posts, 201). */
export async function posts(baseUrl: string, authors: readonly string[], postsEach: number): Promise<void> {
  await mostly('posting', authors.length * postsEach, async (i) => {
    const author = authors[i % authors.length] as string
    const r = await call(baseUrl, 'POST', `/api/users/${author}/posts`, { text: `bench post ${i}` })
    return r.status === 201 ? true : `POST posts → ${r.status} ${JSON.stringify(r.body)}`
  })
}

/**
 * A reproducible power-law graph: `followsEach` followees per user, drawn with density ∝ rank^-0.6
 * (u^2.5 of a uniform u), so the first users are followed by most and the tail by a few — the
 * shape real follower counts have, at a size the API seeds in seconds.
 */
export function powerLawPairs(users: readonly string[], followsEach: number, seed = 42): [string, string][] {
  let state = seed >>> 0
  const random = () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0
    return state / 2 ** 32
  }
  const pairs: [string, string][] = []
  users.forEach((follower, i) => {
    const chosen = new Set<number>()
    for (
      let tries = 0;
      chosen.size < Math.min(followsEach, users.length - 1) && tries < followsEach * 20;
      tries++
    ) {
      const j = Math.floor(users.length * random() ** 2.5)
      if (j !== i) chosen.add(j)
    }
    for (const j of chosen) pairs.push([follower, users[j] as string])
  })
  return pairs
}

/** Forgets these users' session LSNs (their writes older than RYW_WINDOW_S, as for a typical reader). */
export async function forgetSessions(users: readonly string[], keyPrefix: string): Promise<void> {
  const redis = new Redis(directEnv().REDIS_URL as string, { maxRetriesPerRequest: 1 })
  try {
    const keys = new Keys(keyPrefix)
    for (let i = 0; i < users.length; i += 500) {
      await redis.unlink(...users.slice(i, i + 500).map((u) => keys.sessionLsn(u)))
    }
  } finally {
    redis.disconnect()
  }
}

/** The read seed: `count` users with 3 posts and 10 follows each, every timeline read once. */
export async function seedReaders(
  baseUrl: string,
  count: number,
  log: (line: string) => void,
): Promise<string[]> {
  log(`creating ${count} users, 3 posts each, 10 follows each (power law), through the API`)
  const users = await createUsers(baseUrl, count, 'knee')
  await posts(baseUrl, users, 3)
  await follows(baseUrl, powerLawPairs(users, 10))
  const statuses = await warmPaths(
    baseUrl,
    users.map((id) => `/api/users/${id}/timeline?limit=20`),
  )
  log(`warm-up statuses ${JSON.stringify(statuses)}`)
  await forgetSessions(users, benchIsolationEnv.REDIS_KEY_PREFIX)
  return users
}

export default defineBenchTarget({
  name: 'feed',
  request:
    'the first page of a warm home timeline (GET /api/users/{id}/timeline?limit=20: the timeline page from Redis, the celebrity and read-your-writes checks, one MGET of the posts)',
  path: '/api/users/{code}/timeline?limit=20',
  scripts: {
    stepRamp: 'loadtests/feed/step-ramp.js',
    throughput: 'loadtests/feed/knee-throughput.js',
  },
  // Away from the services' default 3000, ./faultline up feed's 18100…, and the other bench ports
  // (shortener 3300, hello-world 3310, ratelimiter 3320).
  port: 3330,
  seedCount: { knee: 1000, bench: 200 },
  ceiling: {
    targetRatio: 0.5,
    why: 'a timeline page is several Redis commands (page script, celebrity cache, RYW check, MGET of 20 posts) and a 20-post JSON body, where the hello-world answers a constant',
  },
  p99ObjectiveMs: 10,
  start: (options) => startFeed(options),
  seed: seedReaders,
  metrics: {
    reads: { kind: 'counter', select: [named('feed_timeline_reads_total')] },
    readsRebuilding: {
      kind: 'counter',
      select: [named('feed_timeline_reads_total', { result: 'rebuilding' })],
    },
    rebuilds: { kind: 'counter', select: [named('feed_rebuilds_total')] },
    hydrateMisses: { kind: 'counter', select: [named('feed_hydrate_misses_total')] },
    rywPrimary: { kind: 'counter', select: [named('feed_ryw_route_total', { target: 'primary' })] },
    dbQueries: {
      kind: 'counter',
      select: [named('feed_db_queries_total'), named('feed_rebuild_queries_total')],
    },
  },
  signals: [
    {
      // Admission control answers 206 when a cold timeline's rebuild does not finish within
      // REBUILD_WAIT_MS: Postgres (or the rebuild slots in front of it) is the limit. The series
      // appears with the first 206, so until then the share is 0, measured.
      id: 'timeline-rebuilds',
      component:
        'Postgres via timeline rebuilds (reads answered 206 while admission control queues rebuilds)',
      threshold: rebuildingShare,
      unit: 'share of reads',
      value: (s) => {
        const reads = s.system.reads ?? null
        if (reads === null || reads <= 0) return null
        return (s.system.readsRebuilding ?? 0) / reads
      },
    },
    {
      // A warm read should not touch Postgres at all; its processes busy near a core mean the
      // reads miss the caches (hydration, rebuilds, user lookups) and Postgres is what they wait on.
      id: 'postgres-cpu',
      component: 'Postgres (CPU of its processes: hydration misses, rebuilds, user lookups)',
      threshold: postgresCores,
      unit: 'cores',
      value: (s) => s.cpuByGroup.postgres ?? null,
    },
  ],
  stepColumns: [
    ['hydrateMisses', 'post cache misses/s max'],
    ['readsRebuilding', '206/s max'],
  ],
  runCounters: [
    ['reads', 'timeline reads'],
    ['hydrateMisses', 'post cache misses'],
    ['rebuilds', 'rebuilds'],
    ['dbQueries', 'db queries'],
  ],
})
