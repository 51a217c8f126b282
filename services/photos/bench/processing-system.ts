/**
 * The photo system as the benchmarks processing.ts, upload.ts and hostile-rss.ts run it: the real
 * API (src/server.ts) and worker (src/worker.ts) as child processes on loopback, configured by env
 * like any deployment, in an isolated world of their own (PhotosFixture: schema `lab_<name>`,
 * prefixes and bucket `lab-<name>`), so a benchmark never reads or disturbs a test's or an
 * experiment's state. Every connection is direct — Postgres, both Redis and S3 on their own ports,
 * not through Toxiproxy: a deployment has no chaos proxy on its hot path, and an experiment may add
 * a toxic to the shared proxies at any moment, which would silently become part of the figure.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  type Child,
  type RunningSystem,
  startChild,
  startNodeSystem,
  stopChild,
  waitForHttp,
} from '@faultline/bench'
import { directEnv, freePort, repoRoot } from '@faultline/infra'
import { createPgPool, createRedis } from '@faultline/kit/clients'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { ensureBucket } from '../src/bucket.ts'
import { type Config, loadConfig } from '../src/config.ts'
import { PhotosFixture } from '../src/fixture.ts'
import { createS3, type S3Client } from '../src/storage/s3-client.ts'

const serviceDir = join(repoRoot, 'services', 'photos')
export const apiEntry = join(serviceDir, 'src', 'server.ts')
export const workerEntry = join(serviceDir, 'src', 'worker.ts')

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

/**
 * The API (it migrates the world's schema at start) and, with `worker`, the worker; see
 * @faultline/bench's startNodeSystem. Without the worker, uploads wait in the new lane until
 * {@link startWorker} starts one.
 */
export function startPhotos(
  world: BenchWorld,
  options: { port: number; logDir: string; worker: boolean },
): Promise<RunningSystem> {
  return startNodeSystem(
    { name: 'photos', apiEntry, workerEntry, env: world.env },
    { port: options.port, logDir: options.logDir, worker: options.worker },
  )
}

/** A worker process of the world, started now; resolves once its /readyz answers (it consumes). */
export async function startWorker(
  world: BenchWorld,
  logDir: string,
  env: Record<string, string> = {},
): Promise<Child> {
  const port = await freePort()
  const child = startChild({
    name: 'photos-worker',
    command: process.execPath,
    args: [workerEntry],
    env: { ...world.env, HOST: '127.0.0.1', PORT: String(port), INSTANCE_ID: `bench-${process.pid}`, ...env },
    cwd: repoRoot,
    logFile: join(logDir, 'photos-worker.log'),
  })
  try {
    await waitForHttp(`http://127.0.0.1:${port}/readyz`, { child, timeoutMs: 60_000 })
  } catch (err) {
    await stopChild(child)
    throw err
  }
  return child
}

/** Resident set size of a process in bytes (VmRSS from /proc), or undefined once it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'))
    const kb = line === undefined ? Number.NaN : Number(line.split(/\s+/)[1])
    return Number.isFinite(kb) ? kb * 1024 : undefined
  } catch {
    return undefined
  }
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

/**
 * CPU seconds a process has used so far, all threads (utime + stime of /proc/<pid>/stat at 100
 * ticks a second, Linux's value everywhere), or undefined once it is gone. @faultline/bench reads
 * the same in proc.ts but does not export it.
 */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat
      .slice(stat.lastIndexOf(')') + 2)
      .trim()
      .split(/\s+/)
    const ticks = Number(fields[11]) + Number(fields[12])
    return Number.isFinite(ticks) ? ticks / 100 : undefined
  } catch {
    return undefined
  }
}

/** The machine's busy share of all cores between two /proc/stat readings (0…1). */
export function hostBusy(): () => number | undefined {
  const read = () => {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number)
    const total = v.reduce((a, b) => a + b, 0)
    return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total }
  }
  const start = read()
  return () => {
    const end = read()
    const total = end.total - start.total
    return total > 0 ? (end.busy - start.busy) / total : undefined
  }
}

/**
 * CPU seconds of every process on the machine, by group: the processes named in `known` (pid →
 * name) under their name, the infrastructure by command name (S3 is versitygw), the rest `other`
 * (another helper's run on this shared machine shows there). Two snapshots' difference says where
 * a run's CPU went.
 */
export function cpuByGroup(known: ReadonlyMap<number, string>): Map<string, number> {
  const groups = new Map<string, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    let comm: string
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
    } catch {
      continue // exited meanwhile
    }
    const seconds = cpuSeconds(pid)
    if (seconds === undefined) continue
    const group = known.get(pid) ?? infraGroup(comm)
    groups.set(group, (groups.get(group) ?? 0) + seconds)
  }
  return groups
}

function infraGroup(comm: string): string {
  if (comm === 'versitygw') return 's3'
  if (comm === 'postgres') return 'postgres'
  if (comm === 'redis-server') return 'redis'
  if (comm.startsWith('toxiproxy')) return 'toxiproxy'
  if (comm === 'java') return 'kafka'
  return 'other'
}

/** CPU ms per image by group between two cpuByGroup snapshots, largest first. */
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
