/**
 * Samples, once a second while the load runs, everything the saturation attribution reads: CPU of
 * the watched processes (/proc), the machine's CPU, Redis `INFO` (main-thread CPU, commands),
 * Postgres `pg_stat_activity`, and the service's `/metrics` (process CPU, pg pool waiting, and the
 * series the system's BenchTarget names, e.g. the shortener's click spool and cache hits). Each source is optional and fails on its own: a sample with a hole is still a sample.
 * Redis and Postgres are read on their direct ports, not through Toxiproxy: this is admin work.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { directEnv } from '@faultline/infra'
import { type MetricSample, parsePrometheusText, sumSeries } from '@faultline/measure'
import { Redis } from 'ioredis'
import pg from 'pg'
import { cpuGroup, hostCpuJiffies, processCpuSeconds, processTable } from './proc.ts'
import { cpuByGroup, type RawSample } from './saturation.ts'
import type { SystemMetric } from './target.ts'

export interface SamplerOptions {
  /** The service whose `/metrics` to read; undefined: none. */
  metricsUrl?: string
  /** The system's own series to read from it (its BenchTarget's `metrics`). */
  systemMetrics?: Record<string, SystemMetric>
  /** Redis to read INFO from (default: the cache Redis, direct); null: none. */
  redisUrl?: string | null
  /** Postgres to count connections on (default: the primary, direct); null: none. */
  databaseUrl?: string | null
  /** Count only connections whose application_name is LIKE this (the run's own); default: all. */
  pgApplicationPattern?: string
  intervalMs?: number
  /** Hard stop: the sampler never outlives this many samples (a bound, whatever happens). */
  maxSamples?: number
  /** Called after each sample (progress lines). */
  onSample?: (sample: RawSample) => void
}

/** Picks the series of one quantity out of a /metrics scrape (summed when several match). */
export type SeriesSelector = (sample: MetricSample) => boolean

/** Series called `name` whose labels include `labels`. */
export const named =
  (name: string, labels: Record<string, string> = {}): SeriesSelector =>
  (s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)

/**
 * What the sampler reads from every service's /metrics: prom-client's process CPU and the kit's
 * pg pool gauges (`pg_pool_*`, or any `…pool…waiting` gauge a service writes itself). A service
 * that exports none of them yields no values (the bare Fastify baseline has no /metrics at all).
 */
export const genericMetrics: Record<'processCpuSeconds' | 'poolWaiting' | 'poolTotal', SystemMetric> = {
  processCpuSeconds: { kind: 'counter', select: [named('process_cpu_seconds_total')] },
  poolWaiting: {
    kind: 'gauge',
    select: [
      named('pg_pool_requests_waiting'),
      (s) => /pool.*waiting/.test(s.name) && !/_(bucket|sum|count)$/.test(s.name),
    ],
  },
  poolTotal: { kind: 'gauge', select: [named('pg_pool_clients_total')] },
}

/**
 * The generic series and the system's own, each summed over its matching series (one per pool,
 * per label); for each, the first selector that matches anything wins.
 */
export function metricsFromPrometheus(
  samples: readonly MetricSample[],
  systemMetrics: Record<string, SystemMetric> = {},
): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [key, metric] of Object.entries({ ...genericMetrics, ...systemMetrics })) {
    for (const select of metric.select) {
      const value = sumSeries(samples.filter(select))
      if (value === undefined) continue
      out[key] = value
      break
    }
  }
  return out
}

/** Redis INFO text → the fields we use. */
export function parseRedisInfo(text: string): NonNullable<RawSample['redis']> | undefined {
  const fields: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1)
  }
  const num = (k: string) => (fields[k] === undefined ? undefined : Number(fields[k]))
  const sys = num('used_cpu_sys')
  const user = num('used_cpu_user')
  if (sys === undefined || user === undefined) return undefined
  const mainSys = num('used_cpu_sys_main_thread')
  const mainUser = num('used_cpu_user_main_thread')
  return {
    cpuSeconds: sys + user,
    ...(mainSys !== undefined && mainUser !== undefined ? { mainThreadCpuSeconds: mainSys + mainUser } : {}),
    commands: num('total_commands_processed') ?? 0,
    opsPerSec: num('instantaneous_ops_per_sec') ?? 0,
  }
}

export class Sampler {
  readonly samples: RawSample[] = []
  readonly errors = new Map<string, string>()
  readonly #pids = new Map<string, { pid: number; mainThreadOnly: boolean }>()
  readonly #options: SamplerOptions
  #redis: Redis | undefined
  #pg: pg.Client | undefined
  #databaseUrl: string | undefined
  #pgRetryAtMs = 0
  #stopped = false
  #loop: Promise<void> | undefined

  constructor(options: SamplerOptions) {
    this.#options = options
  }

  /** Watch a process's CPU under `name` (and, with mainThread, its main thread as `<name>-main`). */
  watch(name: string, pid: number, options: { mainThread?: boolean } = {}): void {
    this.#pids.set(name, { pid, mainThreadOnly: false })
    if (options.mainThread) this.#pids.set(`${name}-main`, { pid, mainThreadOnly: true })
  }

  async start(): Promise<void> {
    const env = directEnv()
    const redisUrl = this.#options.redisUrl === undefined ? env.REDIS_URL : this.#options.redisUrl
    const databaseUrl = this.#options.databaseUrl === undefined ? env.DATABASE_URL : this.#options.databaseUrl
    if (redisUrl) {
      this.#redis = new Redis(redisUrl, {
        lazyConnect: true,
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
      })
      this.#redis.on('error', (err) => this.errors.set('redis', err.message))
      await this.#redis.connect().catch((err: Error) => this.errors.set('redis', err.message))
    }
    this.#databaseUrl = databaseUrl ?? undefined
    await this.#connectPg()
    await this.sampleOnce()
    this.#loop = this.#run()
  }

  async #run(): Promise<void> {
    const interval = this.#options.intervalMs ?? 1000
    const maxSamples = this.#options.maxSamples ?? 3600
    let next = Date.now() + interval
    while (!this.#stopped && this.samples.length < maxSamples) {
      await sleep(Math.max(0, next - Date.now()))
      if (this.#stopped) break
      next += interval
      await this.sampleOnce()
    }
  }

  async sampleOnce(): Promise<RawSample> {
    const tMs = Date.now()
    const cpuSeconds: Record<string, number | undefined> = {}
    for (const [name, { pid, mainThreadOnly }] of this.#pids)
      cpuSeconds[name] = processCpuSeconds(pid, mainThreadOnly)
    const host = hostCpuJiffies()
    const known = new Map<number, string>([[process.pid, 'bench']])
    for (const [name, { pid, mainThreadOnly }] of this.#pids) if (!mainThreadOnly) known.set(pid, name)
    const procs = processTable().map((p) => ({
      pid: p.pid,
      group: cpuGroup(p.comm, p.pid, known),
      cpuSeconds: p.cpuSeconds,
    }))
    const [redis, pgStats, metrics] = await Promise.all([
      this.#readRedis(),
      this.#readPg(),
      this.#readMetrics(),
    ])
    const sample: RawSample = {
      tMs,
      cpuSeconds,
      ...(host ? { host } : {}),
      procs,
      ...(redis ? { redis } : {}),
      ...(pgStats ? { pg: pgStats } : {}),
      ...(metrics ? { metrics } : {}),
    }
    this.samples.push(sample)
    this.#options.onSample?.(sample)
    return sample
  }

  async #readRedis(): Promise<RawSample['redis']> {
    if (this.#redis?.status !== 'ready') return undefined
    try {
      const [cpu, stats] = await Promise.all([this.#redis.info('cpu'), this.#redis.info('stats')])
      return parseRedisInfo(`${cpu}\n${stats}`)
    } catch (err) {
      this.errors.set('redis', (err as Error).message)
      return undefined
    }
  }

  /**
   * (Re)connects the Postgres client, at most every 5 s: an experiment on the same machine may
   * restart Postgres mid-run, and the samples after it should not all be holes.
   */
  async #connectPg(): Promise<void> {
    if (this.#databaseUrl === undefined || Date.now() < this.#pgRetryAtMs) return
    this.#pgRetryAtMs = Date.now() + 5000
    const client = new pg.Client({
      connectionString: this.#databaseUrl,
      application_name: 'faultline-bench-sampler',
      connectionTimeoutMillis: 1000,
    })
    client.on('error', (err) => {
      this.errors.set('postgres', err.message)
      if (this.#pg === client) this.#pg = undefined
    })
    try {
      await client.connect()
      this.#pg = client
    } catch (err) {
      this.errors.set('postgres', (err as Error).message)
      await client.end().catch(() => {})
    }
  }

  async #readPg(): Promise<RawSample['pg']> {
    if (this.#pg === undefined) await this.#connectPg()
    if (this.#pg === undefined) return undefined
    try {
      const { rows } = await this.#pg.query<{ connections: number; active: number; all: number }>(
        `select (count(*) filter (where application_name like $1))::int as connections,
                (count(*) filter (where application_name like $1 and state = 'active'))::int as active,
                count(*)::int as all
           from pg_stat_activity
          where backend_type = 'client backend' and datname = current_database() and pid <> pg_backend_pid()`,
        [this.#options.pgApplicationPattern ?? '%'],
      )
      return rows[0]
    } catch (err) {
      this.errors.set('postgres', (err as Error).message)
      const broken = this.#pg
      this.#pg = undefined
      await broken?.end().catch(() => {})
      return undefined
    }
  }

  async #readMetrics(): Promise<RawSample['metrics']> {
    const url = this.#options.metricsUrl
    if (url === undefined) return undefined
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(800) })
      if (!res.ok) {
        this.errors.set('metrics', `${url} answered ${res.status}`)
        return undefined
      }
      return metricsFromPrometheus(parsePrometheusText(await res.text()), this.#options.systemMetrics)
    } catch (err) {
      this.errors.set('metrics', `${url}: ${(err as Error).message}`)
      return undefined
    }
  }

  /**
   * Waits until the given CPU groups together use less than `cores` for two samples in a row
   * (e.g. the click worker, Postgres and Kafka still catching up on the previous run's clicks),
   * at most `maxMs`. Returns how long it waited and the last level seen. Needs the loop running.
   */
  async settle(
    groups: readonly string[],
    cores: number,
    maxMs: number,
  ): Promise<{ waitedMs: number; cores: number }> {
    const started = Date.now()
    let calm = 0
    let level = Number.NaN
    let seen = this.samples.length
    while (Date.now() - started < maxMs) {
      await sleep(250)
      if (this.samples.length === seen) continue
      seen = this.samples.length
      const [a, b] = this.samples.slice(-2)
      if (!a || !b) continue
      const byGroup = cpuByGroup(a, b, (b.tMs - a.tMs) / 1000)
      level = groups.reduce((sum, g) => sum + (byGroup[g] ?? 0), 0)
      calm = level < cores ? calm + 1 : 0
      if (calm >= 2) break
    }
    return { waitedMs: Date.now() - started, cores: level }
  }

  async stop(): Promise<RawSample[]> {
    this.#stopped = true
    await this.#loop
    await this.sampleOnce()
    this.#redis?.disconnect()
    await this.#pg?.end().catch(() => {})
    return this.samples
  }
}
