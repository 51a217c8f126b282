/**
 * Starting what the bench measures, as child processes on loopback:
 *
 *   the hello-world  packages/bench/src/hello-fastify.ts, the bare Fastify ceiling every system is
 *                    compared with (each system is a Fastify service);
 *   a system         its API and, if it has one, its background worker, started by its
 *                    BenchTarget through `startNodeSystem`, configured by env like any deployment;
 *   or a server already running (`--base-url`): nothing is started, and CPU is read from its
 *                    /metrics (process_cpu_seconds_total) instead of /proc.
 *
 * A started system connects to Postgres, Redis and Kafka directly (`directConnections`), not
 * through Toxiproxy, unless asked: a deployment has no chaos proxy on its hot path (it costs a hop
 * and CPU per request), and on a shared machine an experiment may add a toxic to the shared proxies
 * at any moment, which would silently become part of the measurement.
 */
import { join } from 'node:path'
import { directEnv, freePort, repoRoot } from '@faultline/infra'
import { type Child, startChild, stopChild, waitForHttp } from './children.ts'
import type { RunningSystem, StartSystemOptions } from './target.ts'

const node = process.execPath

/** The hello-world's port: away from the services' default 3000 and from the systems' bench ports. */
export const helloPort = 3310
export const helloEntry = join(repoRoot, 'packages', 'bench', 'src', 'hello-fastify.ts')

/** DATABASE_URL, REDIS_URL, KAFKA_BROKERS on the components' own ports. */
export function directConnections(): Record<string, string> {
  const env = directEnv()
  return {
    DATABASE_URL: env.DATABASE_URL as string,
    REDIS_URL: env.REDIS_URL as string,
    KAFKA_BROKERS: env.KAFKA_BROKERS as string,
  }
}

/** The bare Fastify hello-world on `options.port` (GET / answers "hello"). */
export async function startHello(options: StartSystemOptions): Promise<RunningSystem> {
  const baseUrl = `http://127.0.0.1:${options.port}`
  const api = startChild({
    name: 'hello-fastify',
    command: node,
    args: [helloEntry],
    env: { HOST: '127.0.0.1', PORT: String(options.port), ...options.env },
    cwd: repoRoot,
    logFile: join(options.logDir, 'hello-fastify.log'),
    ...(options.cpus ? { cpus: options.cpus } : {}),
  })
  await waitForHttp(`${baseUrl}/`, { child: api, timeoutMs: options.startTimeoutMs ?? 60_000 }).catch(
    async (err) => {
      await stopChild(api)
      throw err
    },
  )
  return {
    baseUrl,
    metricsUrl: undefined,
    pgApplicationPattern: undefined,
    api,
    worker: undefined,
    stop: () => stopChild(api),
  }
}

export interface NodeSystemSpec {
  /** Process names in logs: `<name>-api`, `<name>-worker`. */
  name: string
  /** The API's entry file (serves /healthz, /readyz and /metrics on PORT). */
  apiEntry: string
  /** The background worker's entry file, if the system has one. */
  workerEntry?: string
  /**
   * The system's env for both processes (schema, key prefix, topic … of its own, so a benchmark
   * never reads or disturbs a test's or an experiment's state); connections are added here.
   */
  env: Record<string, string>
}

/**
 * Starts a system's API, waits for /healthz, starts its worker (after the API, which migrates the
 * schema at start) on a free loopback port, waits for the API's /readyz and the worker's.
 * INSTANCE_ID names the processes' Postgres connections, so the sampler counts ours in
 * pg_stat_activity.
 */
export async function startNodeSystem(
  spec: NodeSystemSpec,
  options: StartSystemOptions,
): Promise<RunningSystem> {
  const baseUrl = `http://127.0.0.1:${options.port}`
  const instanceId = `bench-${process.pid}`
  const connections = options.viaToxiproxy ? {} : directConnections()
  const serviceEnv = { ...connections, ...spec.env, INSTANCE_ID: instanceId, ...options.env }
  const cpus = options.cpus ? { cpus: options.cpus } : {}
  const timeoutMs = options.startTimeoutMs ?? 60_000
  const api = startChild({
    name: `${spec.name}-api`,
    command: node,
    args: [spec.apiEntry],
    env: { HOST: '127.0.0.1', PORT: String(options.port), ...serviceEnv },
    cwd: repoRoot,
    logFile: join(options.logDir, `${spec.name}-api.log`),
    ...cpus,
  })
  let worker: Child | undefined
  let workerUrl: string | undefined
  const stopBoth = async () => {
    await stopChild(api)
    if (worker) await stopChild(worker)
  }
  try {
    await waitForHttp(`${baseUrl}/healthz`, { child: api, timeoutMs })
    if (spec.workerEntry !== undefined && options.worker !== false) {
      // A worker serves its probes on PORT too, and a fixed default would clash with a second
      // bench or a hand-started worker (it exits when its port is taken): a free port instead.
      const workerPort = await freePort()
      workerUrl = `http://127.0.0.1:${workerPort}`
      worker = startChild({
        name: `${spec.name}-worker`,
        command: node,
        args: [spec.workerEntry],
        env: { HOST: '127.0.0.1', PORT: String(workerPort), ...serviceEnv },
        cwd: repoRoot,
        logFile: join(options.logDir, `${spec.name}-worker.log`),
        ...cpus,
      })
    }
    await waitForHttp(`${baseUrl}/readyz`, { child: api, timeoutMs })
    // Measuring starts once the worker consumes too: its /readyz passes after it joined its group.
    if (worker) await waitForHttp(`${workerUrl}/readyz`, { child: worker, timeoutMs })
  } catch (err) {
    await stopBoth()
    throw err
  }
  return {
    baseUrl,
    metricsUrl: `${baseUrl}/metrics`,
    pgApplicationPattern: `%${instanceId}`,
    api,
    worker,
    stop: stopBoth,
  }
}

/** A server someone else runs: nothing to start or stop. */
export function externalSystem(baseUrl: string, metricsPath: string | null = '/metrics'): RunningSystem {
  const url = baseUrl.replace(/\/+$/, '')
  return {
    baseUrl: url,
    metricsUrl: metricsPath === null ? undefined : `${url}${metricsPath}`,
    pgApplicationPattern: undefined,
    api: undefined,
    worker: undefined,
    stop: async () => {},
  }
}
