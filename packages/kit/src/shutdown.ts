/**
 * Graceful shutdown in the house order: stop taking requests (new ones get 503), let in-flight
 * requests finish, then the closers in order — workers and consumers first, then the Redis,
 * Postgres and Kafka clients they use — all under a deadline after which the process exits
 * non-zero. A second signal exits at once.
 *
 * `createShutdown` is the sequence with an injectable `exit`, so tests drive it without killing
 * the test process; `installGracefulShutdown` wires it to the process with `close-with-grace`.
 */

import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import type { Logger } from './logging.ts'

export interface Closer {
  /** Named in the logs, e.g. `click-consumer`, `redis`, `postgres`. */
  name: string
  close(): Promise<unknown> | unknown
}

/** The part of a logger the shutdown writes to (a pino `Logger` fits). */
export type ShutdownLog = Pick<Logger, 'info' | 'warn' | 'error'>

export interface ShutdownOptions {
  app: FastifyInstance
  /** Run in order after `app.close()`; a failing closer is logged and the next one still runs. */
  closers?: Closer[]
  /** Past this, exit with 1 whatever is still closing. @default 10000 */
  deadlineMs?: number
  /**
   * Time between failing the probes and closing the listener, for a load balancer to stop
   * sending traffic; requests arriving meanwhile get 503. @default 0
   */
  drainMs?: number
  log?: ShutdownLog
  /** @default process.exit */
  exit?: (code: number) => void
  /** How the drain waits. @default a timer */
  delay?: (ms: number) => Promise<void>
}

export interface Shutdown {
  /**
   * Shuts down and then calls `exit` (0, or 1 if something failed or `exitCode` says so). A
   * second call exits with 1 at once: the second Ctrl-C of an impatient user.
   */
  run(reason: string, exitCode?: number): Promise<void>
  readonly started: boolean
}

const silentLog: ShutdownLog = { info: () => {}, warn: () => {}, error: () => {} } as unknown as ShutdownLog

export function createShutdown(options: ShutdownOptions): Shutdown {
  const { app, closers = [], deadlineMs = 10_000, drainMs = 0 } = options
  const log = options.log ?? silentLog
  const exit = options.exit ?? ((code: number) => process.exit(code))
  const delay = options.delay ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)))
  let started = false
  let exited = false
  let step = 'draining'

  const exitOnce = (code: number) => {
    if (exited) return
    exited = true
    exit(code)
  }

  return {
    get started() {
      return started
    },
    async run(reason, exitCode = 0) {
      if (started) {
        log.warn({ reason }, 'second shutdown request, exiting now')
        exitOnce(1)
        return
      }
      started = true
      log.info({ reason, deadlineMs, drainMs }, 'shutting down')
      // Not unref'd: if closing hangs on a promise nothing else keeps alive, the process must still
      // end with 1 rather than slip out with 0.
      const deadline = setTimeout(() => {
        log.error({ deadlineMs, step }, 'shutdown deadline passed, exiting')
        exitOnce(1)
      }, deadlineMs)

      let code = exitCode
      if (app.hasDecorator('lifecycle')) app.lifecycle.beginShutdown()
      if (drainMs > 0) await delay(drainMs)
      try {
        step = 'app'
        await app.close()
      } catch (err) {
        code = 1
        log.error({ err }, 'closing the app failed')
      }
      for (const closer of closers) {
        step = closer.name
        try {
          await closer.close()
        } catch (err) {
          code = 1
          log.error({ err, closer: closer.name }, 'closer failed')
        }
      }
      clearTimeout(deadline)
      if (!exited) log.info({ code }, 'shut down')
      exitOnce(code)
    },
  }
}

export type ShutdownSignal = 'SIGTERM' | 'SIGINT' | 'SIGHUP' | 'SIGQUIT' | 'SIGUSR2'

/** `exit` is for tests that drive an installed shutdown (with `signals: []`) without ending the test process. */
export interface InstallOptions extends Omit<ShutdownOptions, 'delay'> {
  /** @default ['SIGTERM', 'SIGINT'] */
  signals?: ShutdownSignal[]
  /** An uncaught exception or unhandled rejection is logged and shuts down with 1. @default true */
  handleErrors?: boolean
}

export interface InstalledShutdown extends Shutdown {
  /** Removes the process listeners (tests, or a process that hands over to another handler). */
  uninstall(): void
}

const allSignals = [
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGILL',
  'SIGTRAP',
  'SIGABRT',
  'SIGBUS',
  'SIGFPE',
  'SIGSEGV',
  'SIGUSR2',
  'SIGTERM',
] as const

/** Wires `createShutdown` to the process' signals (and, by default, to uncaught errors). */
export function installGracefulShutdown(options: InstallOptions): InstalledShutdown {
  const log = options.log ?? silentLog
  const signals: readonly string[] = options.signals ?? ['SIGTERM', 'SIGINT']
  const shutdown = createShutdown(options)
  const skip: closeWithGrace.AllEvents[] = [
    ...allSignals.filter((signal) => !signals.includes(signal)),
    // A process whose event loop ran empty is done; nothing to close gracefully.
    'beforeExit',
    ...(options.handleErrors === false ? (['uncaughtException', 'unhandledRejection'] as const) : []),
  ]
  const { uninstall } = closeWithGrace(
    {
      // The deadline is createShutdown's, so the sequence and its exit code are tested code.
      delay: false,
      logger: { error: (message: unknown) => log.error({ detail: String(message) }, 'close-with-grace') },
      skip,
      onSecondSignal: (signal) => log.warn({ signal }, 'second signal, exiting now'),
      onSecondError: (err) => log.error({ err }, 'error while shutting down, exiting now'),
    },
    async ({ signal, err, manual }) => {
      if (err) log.error({ err }, 'uncaught error, shutting down')
      await shutdown.run(signal ?? (err ? 'uncaught error' : manual ? 'manual' : 'exit'), err ? 1 : 0)
    },
  )
  return {
    run: shutdown.run,
    get started() {
      return shutdown.started
    },
    uninstall,
  }
}
