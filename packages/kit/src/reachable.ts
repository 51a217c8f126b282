/**
 * A process started before its dependencies (compose starting everything at once, an experiment
 * stopping Postgres or Kafka) waits for them instead of exiting: a supervisor's restart loop would
 * only add noise, and nothing is lost by waiting. `whenReachable` runs the step (migrate, join a
 * consumer group, create a topic) until it succeeds, with capped, jittered backoff, logging each
 * failure; it gives up only when `signal` aborts (shutdown).
 */
import { retry } from '@faultline/resilience'

export interface ReachableLog {
  warn(obj: object, msg: string): void
}

export interface ReachableOptions {
  log: ReachableLog
  signal?: AbortSignal
  /** @default 500 */
  baseMs?: number
  /** @default 10 000 */
  capMs?: number
}

/** Runs `step` until it succeeds; `what` names the dependency in the log ("Postgres", "Kafka"). */
export function whenReachable<T>(what: string, step: () => Promise<T>, o: ReachableOptions): Promise<T> {
  return retry(step, {
    maxAttempts: Number.POSITIVE_INFINITY,
    baseMs: o.baseMs ?? 500,
    capMs: o.capMs ?? 10_000,
    ...(o.signal ? { signal: o.signal } : {}),
    onAttempt: ({ outcome, error, delayMs }) => {
      if (outcome === 'failure' && delayMs !== undefined)
        o.log.warn({ err: error, retryInMs: Math.round(delayMs) }, `${what} not reachable yet, retrying`)
    },
  })
}
