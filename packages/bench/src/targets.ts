/**
 * The servers the bench measures, started as child processes on loopback:
 *
 *   shortener  services/shortener/src/server.ts (the API) and src/worker.ts (the click consumer),
 *              configured by env like any deployment; its defaults reach the native infra
 *              through Toxiproxy. The API migrates its schema at start (MIGRATE_ON_START).
 *   hello      packages/bench/src/hello-fastify.ts, the bare Fastify baseline.
 *
 * A started shortener connects to Postgres, Redis and Kafka directly (directEnv), not through
 * Toxiproxy, unless `viaToxiproxy`: a deployment has no chaos proxy on its hot path (it costs a
 * hop and CPU per request), and on a shared machine an experiment may add a toxic to the shared
 * proxies at any moment, which would silently become part of the measurement.
 *
 * A started shortener also gets its own Postgres schema, Redis key prefix, Kafka topic and consumer
 * group (benchIsolationEnv), so a benchmark never reads or disturbs the state of a test or an
 * experiment running against the same infrastructure — and vice versa.
 *
 * Or a server already running (`--base-url`): then nothing is started and CPU is read from its
 * /metrics (process_cpu_seconds_total) instead of /proc.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { directEnv, repoRoot } from '@faultline/infra'
import { type Child, startChild, stopChild, waitForHttp } from './children.ts'

export type TargetKind = 'shortener' | 'hello'

export interface RunningTarget {
  kind: TargetKind | 'external'
  baseUrl: string
  /** /metrics of the API, when it has one. */
  metricsUrl: string | undefined
  /**
   * A `LIKE` pattern matching the Postgres application_name of this run's connections (the
   * shortener names them after INSTANCE_ID), so pg_stat_activity counts ours, not a test's.
   */
  pgApplicationPattern: string | undefined
  api: Child | undefined
  worker: Child | undefined
  stop: () => Promise<void>
}

export interface StartTargetOptions {
  port: number
  logDir: string
  /** taskset CPU list for the server (and its worker). */
  cpus?: string
  /** Extra env for the shortener (e.g. LOG_LEVEL, REDIRECT_STATUS). */
  env?: Record<string, string>
  /** Connect the shortener through the Toxiproxy proxies (the service's own defaults). */
  viaToxiproxy?: boolean
  /** Start the click worker too (default true): clicks flow to Postgres as in production. */
  worker?: boolean
  startTimeoutMs?: number
}

const node = process.execPath

/** Ports away from the service's default 3000, which tests and experiments use. */
export const defaultPorts = { shortener: 3300, hello: 3310 } as const

export const benchIsolationEnv = {
  DB_SCHEMA: 'shortener_bench',
  REDIS_KEY_PREFIX: 'bench:',
  CLICKS_TOPIC: 'clicks-bench',
  CLICKS_GROUP_ID: 'shortener-bench',
} as const

export const shortenerEntry = join(repoRoot, 'services', 'shortener', 'src', 'server.ts')
export const shortenerWorkerEntry = join(repoRoot, 'services', 'shortener', 'src', 'worker.ts')
export const helloEntry = join(repoRoot, 'packages', 'bench', 'src', 'hello-fastify.ts')

export function shortenerAvailable(): boolean {
  return existsSync(shortenerEntry)
}

/** DATABASE_URL, REDIS_URL, KAFKA_BROKERS on the components' own ports. */
export function directConnections(): Record<string, string> {
  const env = directEnv()
  return {
    DATABASE_URL: env.DATABASE_URL as string,
    REDIS_URL: env.REDIS_URL as string,
    KAFKA_BROKERS: env.KAFKA_BROKERS as string,
  }
}

export async function startTarget(kind: TargetKind, options: StartTargetOptions): Promise<RunningTarget> {
  const baseUrl = `http://127.0.0.1:${options.port}`
  const connections = options.viaToxiproxy ? {} : directConnections()
  // INSTANCE_ID names the service's Postgres connections, so the sampler can count ours.
  const instanceId = `bench-${process.pid}`
  const serviceEnv =
    kind === 'shortener'
      ? { ...connections, ...benchIsolationEnv, INSTANCE_ID: instanceId, ...options.env }
      : { ...options.env }
  const env = { HOST: '127.0.0.1', PORT: String(options.port), ...serviceEnv }
  const cpus = options.cpus ? { cpus: options.cpus } : {}
  const timeoutMs = options.startTimeoutMs ?? 60_000
  if (kind === 'hello') {
    const api = startChild({
      name: 'hello-fastify',
      command: node,
      args: [helloEntry],
      env,
      cwd: repoRoot,
      logFile: join(options.logDir, 'hello-fastify.log'),
      ...cpus,
    })
    await waitForHttp(`${baseUrl}/`, { child: api, timeoutMs }).catch(async (err) => {
      await stopChild(api)
      throw err
    })
    return {
      kind,
      baseUrl,
      metricsUrl: undefined,
      pgApplicationPattern: undefined,
      api,
      worker: undefined,
      stop: () => stopChild(api),
    }
  }
  if (!shortenerAvailable()) throw new Error(`${shortenerEntry} does not exist yet`)
  const api = startChild({
    name: 'shortener-api',
    command: node,
    args: [shortenerEntry],
    env,
    cwd: repoRoot,
    logFile: join(options.logDir, 'shortener-api.log'),
    ...cpus,
  })
  const stopBoth = async () => {
    await stopChild(api)
    if (worker) await stopChild(worker)
  }
  let worker: Child | undefined
  try {
    // The API migrates the schema before it listens; the worker starts once that is done.
    await waitForHttp(`${baseUrl}/healthz`, { child: api, timeoutMs })
    if (options.worker !== false) {
      worker = startChild({
        name: 'shortener-worker',
        command: node,
        args: [shortenerWorkerEntry],
        env: serviceEnv,
        cwd: repoRoot,
        logFile: join(options.logDir, 'shortener-worker.log'),
        ...cpus,
      })
    }
    await waitForHttp(`${baseUrl}/readyz`, { child: api, timeoutMs })
  } catch (err) {
    await stopBoth()
    throw err
  }
  return {
    kind,
    baseUrl,
    metricsUrl: `${baseUrl}/metrics`,
    pgApplicationPattern: `%${instanceId}`,
    api,
    worker,
    stop: stopBoth,
  }
}

/** A server someone else runs: nothing to start or stop. */
export function externalTarget(baseUrl: string, metricsPath: string | null = '/metrics'): RunningTarget {
  const url = baseUrl.replace(/\/+$/, '')
  return {
    kind: 'external',
    baseUrl: url,
    metricsUrl: metricsPath === null ? undefined : `${url}${metricsPath}`,
    pgApplicationPattern: undefined,
    api: undefined,
    worker: undefined,
    stop: async () => {},
  }
}
