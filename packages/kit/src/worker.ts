/**
 * The runtime of a process without an API of its own — a Kafka consumer, BullMQ processors: the
 * same `/healthz`, `/readyz`, `/metrics`, error handling and graceful shutdown an HTTP service gets
 * (it is `createService` and `installGracefulShutdown` underneath), plus the switch manifest's
 * `/admin/mitigations`, served on the process' `PORT`. So the lab starts, health-waits, scrapes
 * and switches a worker exactly like an API instance, and an invariant can read a worker's counter.
 *
 * A worker is ready once `start` has resolved and every check it added passes (typically "the
 * consumer joined its group"); it is live as long as the process runs, also while it still waits
 * for Kafka at boot.
 */
import type { FastifyInstance } from 'fastify'
import type { Logger } from './logging.ts'
import type { Metrics } from './metrics.ts'
import type { ReadinessCheck } from './readiness.ts'
import { createService } from './service.ts'
import {
  type Closer,
  type InstalledShutdown,
  installGracefulShutdown,
  type ShutdownSignal,
} from './shutdown.ts'
import { installSwitches, type SwitchesPluginOptions } from './switches.ts'

export interface WorkerOptions<N extends string = string> {
  /** The service name (logs, the `createService` name). */
  name: string
  log: Logger
  /** Where `/healthz`, `/readyz`, `/metrics` and `/admin/mitigations` are served; 0 = any free port. */
  port: number
  /** @default '127.0.0.1' */
  host?: string
  /** The registry the worker's own counters are on; one is made when absent. */
  metrics?: Metrics
  /** How long a readiness check may take unless it says otherwise. @default 1000 */
  readinessTimeoutMs?: number
  /** Checks besides "started", e.g. `{ consumer: kafkaConsumerReadinessCheck(consumer) }`. */
  readiness?: Record<string, ReadinessCheck>
  /** The switches and their admin token, served on `/admin/mitigations` with a gauge per switch. */
  switches?: SwitchesPluginOptions<N>
  /**
   * Begins the work (connect, subscribe, `consumer.run`, `new Worker(...)`) and resolves once it
   * runs. Called after the listener is up, so liveness answers while it waits for a broker. The
   * signal aborts when shutdown begins first: stop waiting then. A rejection (not caused by the
   * signal) shuts the process down with exit code 1.
   */
  start(signal: AbortSignal): Promise<unknown>
  /** Stops the work (`consumer.disconnect()`, `worker.close()`): the first closer, after the listener. */
  stop(): Promise<unknown> | unknown
  /** Then these, in order: the clients the work used (Postgres, Redis, …). */
  closers?: Closer[]
  /** @default 10000 */
  deadlineMs?: number
  /** @default 0 */
  drainMs?: number
  /** @default ['SIGTERM', 'SIGINT'] */
  signals?: ShutdownSignal[]
  /** @default true */
  handleErrors?: boolean
  /** @default process.exit (tests pass their own, with `signals: []` and `handleErrors: false`) */
  exit?: (code: number) => void
}

export interface Worker {
  app: FastifyInstance
  /** `http://host:port` of the listener (the real port when `port` was 0). */
  url: string
  /** true once `start` resolved; false if it failed or shutdown came first. */
  started: Promise<boolean>
  shutdown: InstalledShutdown
}

type Phase = 'starting' | 'running' | 'stopping' | 'failed'

/**
 * Listens, then starts the work, with graceful shutdown installed: on SIGTERM the probes fail, the
 * listener closes, `stop` runs (after aborting a `start` still in progress and waiting for it),
 * then the closers, all under `deadlineMs`.
 */
export async function runWorker<N extends string>(options: WorkerOptions<N>): Promise<Worker> {
  const { log } = options
  const app = createService({
    name: options.name,
    logger: log,
    metrics: options.metrics,
    readinessTimeoutMs: options.readinessTimeoutMs,
  })
  let phase: Phase = 'starting'
  app.readiness.add('started', async () => {
    if (phase !== 'running') throw new Error(`worker ${phase}`)
  })
  for (const [name, check] of Object.entries(options.readiness ?? {})) app.readiness.add(name, check)
  if (options.switches) installSwitches(app, options.switches)

  const aborted = new AbortController()
  let starting: Promise<unknown> = Promise.resolve()
  const shutdown = installGracefulShutdown({
    app,
    log,
    deadlineMs: options.deadlineMs,
    drainMs: options.drainMs,
    signals: options.signals,
    handleErrors: options.handleErrors,
    exit: options.exit,
    closers: [
      {
        name: options.name,
        close: async () => {
          phase = 'stopping'
          aborted.abort()
          await starting.catch(() => {})
          await options.stop()
        },
      },
      ...(options.closers ?? []),
    ],
  })

  const url = await app.listen({ port: options.port, host: options.host ?? '127.0.0.1' })
  // Not started at all when a signal came while the listener was opening; a synchronous throw is
  // a failed start like a rejection.
  starting = aborted.signal.aborted
    ? Promise.reject(aborted.signal.reason)
    : Promise.resolve().then(() => options.start(aborted.signal))
  const started = starting.then(
    () => {
      if (aborted.signal.aborted) return false
      phase = 'running'
      log.info({ url }, 'worker running')
      return true
    },
    (err: unknown) => {
      if (aborted.signal.aborted) return false
      phase = 'failed'
      log.error({ err }, 'worker failed to start')
      void shutdown.run('worker failed to start', 1)
      return false
    },
  )
  return { app, url, started, shutdown }
}

/**
 * Ready while a BullMQ `Worker` runs and is not paused. Structural, so the kit does not depend on
 * BullMQ: anything with `isRunning()` (and optionally `isPaused()`) fits.
 */
export function bullmqWorkerReadinessCheck(worker: {
  isRunning(): boolean
  isPaused?(): boolean
}): ReadinessCheck {
  return async () => {
    if (worker.isPaused?.()) throw new Error('worker paused')
    if (!worker.isRunning()) throw new Error('worker not running')
  }
}
