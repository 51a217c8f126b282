/**
 * What the benchmarks processing.ts, upload.ts and hostile-rss.ts share besides the system itself
 * (src/bench-target.ts startPhotos starts that): an isolated world of their own (PhotosFixture:
 * schema `lab_<name>`, prefixes and bucket `lab-<name>`) with the admin clients that read and reset
 * it, so a benchmark never reads or disturbs a test's or an experiment's state; a run's results
 * folder, log and machine line; and the figures they compute. Every connection is direct —
 * Postgres, both Redis and S3 on their own ports, not through Toxiproxy: a deployment has no chaos
 * proxy on its hot path, and an experiment may add a toxic to the shared proxies at any moment,
 * which would silently become part of the figure.
 */
import { hostCpuJiffies, type MachineInfo, machineInfo, machineLine, resultsDir } from '@faultline/bench'
import { directEnv } from '@faultline/infra'
import { createPgPool, createRedis } from '@faultline/kit/clients'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { ensureBucket } from '../src/bucket.ts'
import { type Config, loadConfig } from '../src/config.ts'
import { PhotosFixture } from '../src/fixture.ts'
import { createS3, type S3Client } from '../src/storage/s3-client.ts'

/** A benchmark's isolated world and the admin clients that read and reset it (direct ports). */
export interface BenchWorld {
  fixture: PhotosFixture
  /** Env of every process of the world: isolation, direct connections, quiet logs. */
  env: Record<string, string>
  /** The config the processes load from `env` (the bench reads S3 credentials and limits from it). */
  config: Config
  pg: pg.Pool
  redis: Redis
  queueRedis: Redis
  s3: S3Client
  /** Empties the world (tables, keys, objects): before a run and after it. */
  reset(): Promise<void>
  close(): Promise<void>
}

/**
 * Opens the world `name` (its bucket created). The system runs in it with
 * `startPhotos(options, world.env)` (src/bench-target.ts: the world's env over the run's own
 * isolation); its stop() removes the world's schema, queues and bucket, and `reset()` after it
 * the rest (cache keys).
 */
export async function openWorld(name: string, extraEnv: Record<string, string> = {}): Promise<BenchWorld> {
  const fixture = new PhotosFixture({ name })
  const direct = directEnv()
  const env: Record<string, string> = {
    DATABASE_URL: direct.DATABASE_URL as string,
    REDIS_URL: direct.REDIS_URL as string,
    QUEUE_REDIS_URL: direct.QUEUE_REDIS_URL as string,
    S3_ENDPOINT: direct.S3_ENDPOINT as string,
    LOG_LEVEL: 'warn',
    ...fixture.env,
    ...extraEnv,
  }
  const config = loadConfig(env)
  const pgPool = createPgPool(config.databaseUrl, { max: 2, applicationName: `photos-bench-${name}` })
  const redis = createRedis(config.redisUrl, { name: `photos-bench-${name}` })
  const queueRedis = createRedis(config.queueRedisUrl, { name: `photos-bench-${name}-queue` })
  const s3 = createS3({
    endpoint: config.s3.endpoint,
    region: config.s3.region,
    accessKeyId: config.s3.accessKeyId,
    secretAccessKey: config.s3.secretAccessKey,
  })
  await ensureBucket(s3, config.s3.bucket)
  const clients = { pg: pgPool, redis, queueRedis, s3 }
  return {
    fixture,
    env,
    config,
    ...clients,
    reset: async () => {
      await fixture.reset(clients)
    },
    close: async () => {
      s3.destroy()
      redis.disconnect()
      queueRedis.disconnect()
      await pgPool.end()
    },
  }
}

/** A benchmark run's results folder, its timestamped log (stdout) and the machine it ran on. */
export interface BenchRun {
  out: string
  log(line: string): void
  machine: MachineInfo
  /** The command line as run, for the report: `node services/photos/bench/<kind>.ts …`. */
  command: string
}

/** Opens results/photos/<kind>/<timestamp> (under `outRoot`) and logs the machine line. */
export async function beginRun(kind: string, outRoot: string | undefined): Promise<BenchRun> {
  const out = resultsDir('photos', kind, outRoot)
  const log = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`)
  const machine = await machineInfo()
  log(machineLine(machine))
  const command = `node services/photos/bench/${kind}.ts ${process.argv.slice(2).join(' ')}`.trim()
  return { out, log, machine, command }
}

/**
 * Completions per second over the middle 80 % of a run: the completions between the one at 10 %
 * and the one at 90 % of the count, over the time between them — warm-up (threads starting,
 * codecs loading) and the tail (the last slots idle) left out, as the notification bench does.
 * `doneAtMs` are the completion times, any order; undefined when there are too few to tell.
 */
export function middleRate(doneAtMs: readonly number[]): { perSecond: number; seconds: number } | undefined {
  const sorted = [...doneAtMs].sort((a, b) => a - b)
  const first = Math.floor(sorted.length * 0.1)
  const last = Math.ceil(sorted.length * 0.9) - 1
  const from = sorted[first]
  const to = sorted[last]
  if (from === undefined || to === undefined || last <= first || to <= from) return undefined
  const seconds = (to - from) / 1000
  return { perSecond: (last - first) / seconds, seconds }
}

/** The machine's busy share of all cores from now to each call of the returned function (0…1). */
export function hostBusy(): () => number | undefined {
  const start = hostCpuJiffies()
  return () => {
    const end = hostCpuJiffies()
    const total = start && end ? end.total - start.total : 0
    return start && end && total > 0 ? (end.busy - start.busy) / total : undefined
  }
}

/** CPU ms per image by group between two cpuSecondsByGroup snapshots, largest first. */
export function cpuMsPerImage(
  before: Map<string, number>,
  after: Map<string, number>,
  images: number,
): Record<string, number> {
  const out: [string, number][] = []
  for (const [group, seconds] of after) {
    const used = seconds - (before.get(group) ?? 0)
    if (images > 0 && used > 0) out.push([group, Math.round((used * 1000) / images)])
  }
  return Object.fromEntries(out.sort((a, b) => b[1] - a[1]))
}
