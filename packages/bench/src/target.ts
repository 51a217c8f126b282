/**
 * What the bench needs to know about a system to find its knee and benchmark it against the bare
 * Fastify ceiling: a `BenchTarget`. The bench itself knows no system. Each system describes itself
 * in its own folder, `services/<system>/src/bench-target.ts` (default export), and the CLIs load
 * it by name (`--system <name>`): a new system adds that file, not a change here.
 *
 * The parts every system shares are the bench's: the hello-world ceiling (hello-fastify.ts), the
 * generic saturation signals (the service's event loop, Redis, the Postgres pool, the machine,
 * the load generator), process CPU from /proc, Redis INFO and pg_stat_activity of the shared
 * infrastructure. What is the system's own: how to start it, what a request is and what it reads
 * (the seed), the ceiling ratio and latency objective it is held to, and the series of its
 * /metrics that show its own queues filling (its saturation signals).
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { repoRoot } from '@faultline/infra'
import type { MetricSample } from '@faultline/measure'
import type { Child } from './children.ts'
import type { ResourceSample } from './saturation.ts'

export interface StartSystemOptions {
  port: number
  /** Where each process's log goes. */
  logDir: string
  /** `taskset -c <cpus>` for every process of the system. */
  cpus?: string
  /** Extra env (e.g. LOG_LEVEL). */
  env?: Record<string, string>
  /** Connect through the Toxiproxy proxies (the system's own defaults) instead of direct ports. */
  viaToxiproxy?: boolean
  /** Start the system's background worker too (default true), as in production. */
  worker?: boolean
  startTimeoutMs?: number
}

/** A system the bench started (or one running elsewhere: `api` undefined, `stop` does nothing). */
export interface RunningSystem {
  baseUrl: string
  /** Its /metrics, when it has one. */
  metricsUrl: string | undefined
  /**
   * A `LIKE` pattern matching the Postgres application_name of this run's connections, so
   * pg_stat_activity counts ours, not a test's.
   */
  pgApplicationPattern: string | undefined
  api: Child | undefined
  /** The background process (a consumer), if the system has one and it was started. */
  worker: Child | undefined
  stop: () => Promise<void>
}

/** A series read from the system's /metrics every second; several matches are summed. */
export interface SystemMetric {
  /** Tried in order; the first that matches anything wins (names may change as code moves). */
  select: readonly ((sample: MetricSample) => boolean)[]
  /** A counter becomes a per-second rate, a gauge is taken as read. */
  kind: 'counter' | 'gauge'
}

/** A saturation signal of the system's own (a queue of its own filling up). */
export interface SystemSignal {
  id: string
  component: string
  threshold: number
  unit: string
  /** Its value in one per-second sample (`sample.system` holds the target's metrics), or null. */
  value: (sample: ResourceSample) => number | null
}

export interface BenchTarget {
  /** As in services/<name>; results go to results/<name>/{knee,bench}/. */
  name: string
  /** One line: what one measured request is (for --help and the reports). */
  request: string
  /** The request's path; `{code}` is replaced, round robin, by the keys `seed` returns. */
  path: string
  /** k6 scripts (repo-relative): a step ramp for the knee, closed/open model runs for the bench. */
  scripts: { stepRamp: string; throughput: string }
  /** Port of a started system: away from the one tests and experiments use. */
  port: number
  /** How many keys to seed by default: the knee spreads over many, the bench cycles over a few. */
  seedCount: { knee: number; bench: number }
  /** The throughput ratio to the bare Fastify hello-world the system should reach, and why. */
  ceiling: { targetRatio: number; why: string }
  /** The p99 objective in ms: a knee plateau is sustained under it; the bench's half-max target. */
  p99ObjectiveMs: number
  /** Start the system on loopback, isolated from tests and experiments; stop() undoes it all. */
  start(options: StartSystemOptions): Promise<RunningSystem>
  /** Create what the requests read, warm it, and return the keys `{code}` takes. */
  seed(baseUrl: string, count: number, log: (line: string) => void): Promise<string[]>
  /** The system's own series read from /metrics (the generic ones are the bench's). */
  metrics: Record<string, SystemMetric>
  /** Its own saturation signals, judged after the service and its stores, before the machine. */
  signals: readonly SystemSignal[]
  /** Gauges shown per knee plateau as their maximum: `[metric id, column header]`. */
  stepColumns: readonly (readonly [string, string])[]
  /** Counters shown per bench run as their growth: `[metric id, column header]`. */
  runCounters: readonly (readonly [string, string])[]
}

/** Identity, for the type: `export default defineBenchTarget({ … })`. */
export function defineBenchTarget(target: BenchTarget): BenchTarget {
  return target
}

/** Where a system's target lives, by convention. */
export function benchTargetPath(system: string): string {
  return join(repoRoot, 'services', system, 'src', 'bench-target.ts')
}

/** Loads `services/<system>/src/bench-target.ts`; throws a one-line reason when there is none. */
export async function loadBenchTarget(system: string): Promise<BenchTarget> {
  if (!/^[a-z][a-z0-9-]*$/.test(system))
    throw new Error(`--system must be a system's folder name, got ${system}`)
  const path = benchTargetPath(system)
  if (!existsSync(path)) throw new Error(`no bench target for ${system}: ${path} does not exist`)
  const target = ((await import(pathToFileURL(path).href)) as { default?: BenchTarget }).default
  if (!target || target.name !== system)
    throw new Error(`${path} must default-export defineBenchTarget({ name: '${system}', … })`)
  return target
}
