/**
 * Prometheus metrics with one registry per app, never prom-client's global one: a test builds
 * many apps in one process and each must start from zero, and a metric registered twice in the
 * global registry throws.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import {
  Counter,
  type CounterConfiguration,
  collectDefaultMetrics,
  Gauge,
  type GaugeConfiguration,
  Histogram,
  type HistogramConfiguration,
  type Metric,
  Registry,
  Summary,
  type SummaryConfiguration,
} from 'prom-client'

/** What the pool gauges read; a `pg.Pool` has these counters. */
export interface PoolCounts {
  readonly totalCount: number
  readonly idleCount: number
  readonly waitingCount: number
}

type HttpLabels = 'method' | 'route' | 'status_code'

export interface Metrics {
  readonly registry: Registry
  /** `http_request_duration_seconds{method, route, status_code}`, fed by `metricsPlugin`. */
  readonly httpRequestDuration: Histogram<HttpLabels>
  /** Registers (or returns the already registered) counter of this name on this app's registry. */
  counter<L extends string>(config: Omit<CounterConfiguration<L>, 'registers'>): Counter<L>
  gauge<L extends string>(config: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L>
  histogram<L extends string>(config: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L>
  summary<L extends string>(config: Omit<SummaryConfiguration<L>, 'registers'>): Summary<L>
  /**
   * Exposes a pool's counters as `pg_pool_clients_total`, `pg_pool_clients_idle` and
   * `pg_pool_requests_waiting` with `pool=<name>`, read at scrape time. `waiting` above zero
   * means requests queue for a connection: the pool is the bottleneck.
   */
  observePgPool(pool: PoolCounts, name?: string): void
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop lag, GC). @default true */
  defaultMetrics?: boolean
  /** Labels on every series, e.g. `{ service: 'shortener' }`. */
  defaultLabels?: Record<string, string>
}

/** Latency buckets in seconds, from 1 ms to 10 s: the range a request of a lab service spans. */
export const httpDurationBucketsSeconds = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry()
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels)
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry })

  function getOrCreate<M extends Metric<string>>(name: string, create: () => M): M {
    return (registry.getSingleMetric(name) as M | undefined) ?? create()
  }

  const pools = new Map<string, PoolCounts>()
  const poolGauge = (name: string, help: string, read: (pool: PoolCounts) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['pool'],
      registers: [registry],
      collect() {
        for (const [label, pool] of pools) this.set({ pool: label }, read(pool))
      },
    })
  let poolGaugesRegistered = false

  const metrics: Metrics = {
    registry,
    httpRequestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by method, route template and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: httpDurationBucketsSeconds,
      registers: [registry],
    }),
    counter: (config) => getOrCreate(config.name, () => new Counter({ ...config, registers: [registry] })),
    gauge: (config) => getOrCreate(config.name, () => new Gauge({ ...config, registers: [registry] })),
    histogram: (config) =>
      getOrCreate(config.name, () => new Histogram({ ...config, registers: [registry] })),
    summary: (config) => getOrCreate(config.name, () => new Summary({ ...config, registers: [registry] })),
    observePgPool(pool, name = 'default') {
      pools.set(name, pool)
      if (poolGaugesRegistered) return
      poolGaugesRegistered = true
      poolGauge(
        'pg_pool_clients_total',
        'Connections the pg pool holds (idle + checked out)',
        (p) => p.totalCount,
      )
      poolGauge('pg_pool_clients_idle', 'Connections idle in the pg pool', (p) => p.idleCount)
      poolGauge('pg_pool_requests_waiting', 'Queries queued for a pg pool connection', (p) => p.waitingCount)
    },
  }
  return metrics
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

export interface MetricsPluginOptions {
  /** Pass one to share it with clients created before the app; otherwise one is created. */
  metrics?: Metrics
  /** @default '/metrics' */
  path?: string
}

/** The route label of requests no route matched: one series, not one per scanned URL. */
export const unmatchedRoute = 'unmatched'

/** Installs the metrics on an instance directly (what `metricsPlugin` and `createService` do). */
export function installMetrics(app: FastifyInstance, options: MetricsPluginOptions = {}): Metrics {
  const metrics = options.metrics ?? createMetrics()
  const path = options.path ?? '/metrics'
  app.decorate('metrics', metrics)
  app.addHook('onResponse', async (request, reply) => {
    // The route template, never the raw URL, keeps the label set bounded (`/:code`, not each code).
    const route = request.is404 ? unmatchedRoute : (request.routeOptions.url ?? unmatchedRoute)
    metrics.httpRequestDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    )
  })
  app.get(path, { logLevel: 'warn' }, async (_request, reply) => {
    reply.type(metrics.registry.contentType)
    return metrics.registry.metrics()
  })
  return metrics
}

/** `GET /metrics` and the request histogram, as a fastify-plugin (not encapsulated). */
export const metricsPlugin = fp(
  async (app: FastifyInstance, options: MetricsPluginOptions) => {
    installMetrics(app, options)
  },
  { name: '@faultline/kit/metrics', fastify: '5.x' },
)
