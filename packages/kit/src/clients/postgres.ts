/**
 * The Postgres pool: one per process per database, created in `server.ts` (or by `pgPoolPlugin`).
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import pg from 'pg'
import type { Logger } from '../logging.ts'
import type { ReadinessCheck, ReadinessCheckOptions } from '../readiness.ts'

export type Pool = pg.Pool

export interface PgPoolOptions {
  /** Most connections; a query beyond them waits (see `pg_pool_requests_waiting`). @default 10 */
  max?: number
  /**
   * Postgres `statement_timeout`: the server cancels a statement running longer, so a slow
   * query frees its connection instead of holding it. Unset or 0: no limit.
   */
  statementTimeoutMs?: number
  /**
   * Client-side limit on waiting for a query's result. `statement_timeout` cannot help when the
   * network itself hangs (a Toxiproxy `timeout` toxic, a half-open connection): the server never
   * hears about it. Defaults to `statementTimeoutMs + 500` when that is set, else no limit.
   */
  queryTimeoutMs?: number
  /** Every session's `search_path` (a service's schema), sent as a startup option. */
  searchPath?: string
  /** Shown in `pg_stat_activity.application_name`, to tell services apart on the server. */
  applicationName?: string
  /** How long to wait for a new connection before failing the query. @default 5000 */
  connectionTimeoutMs?: number
  /** An idle connection is closed after this long. @default 10000 */
  idleTimeoutMs?: number
  /** Where errors of idle connections are logged. */
  log?: Logger
}

export function createPgPool(url: string, options: PgPoolOptions = {}): Pool {
  const queryTimeoutMs =
    options.queryTimeoutMs ?? (options.statementTimeoutMs ? options.statementTimeoutMs + 500 : undefined)
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 10_000,
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
    ...(queryTimeoutMs ? { query_timeout: queryTimeoutMs } : {}),
    ...(options.searchPath ? { options: `-c search_path=${options.searchPath}` } : {}),
    ...(options.applicationName ? { application_name: options.applicationName } : {}),
  })
  // An idle connection that is reset (a Toxiproxy toxic, a Postgres restart) makes the pool emit
  // 'error'; without a listener that event would crash the process. The pool replaces the client.
  pool.on('error', (err) => {
    options.log?.warn({ err, pool: options.applicationName }, 'idle postgres connection failed')
  })
  return pool
}

/**
 * Runs `fn` with a client checked out of `pool` (for a transaction: several statements on one
 * connection), and gives it back — destroyed, not reused, when `fn` threw or the connection
 * failed meanwhile.
 *
 * Why not `pool.connect()` by hand: while a client is checked out the pool no longer listens to
 * its 'error' event, and pg emits one when the server ends the connection between two
 * statements (Postgres stopped or restarted: `FATAL 57P01 terminating connection due to
 * administrator command`, `pg_terminate_backend`). With no listener, that event crashes the
 * process — it took the click worker down in pm04 when the lab stopped Postgres. Here it is
 * recorded instead; the next statement fails with it, `fn` throws, and the caller retries.
 */
export async function withPgClient<T>(
  pool: Pick<Pool, 'connect'>,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect()
  let failed: Error | undefined
  const onError = (err: Error) => {
    failed ??= err
  }
  client.on('error', onError)
  try {
    return await fn(client)
  } catch (err) {
    failed ??= err instanceof Error ? err : new Error(String(err))
    throw err
  } finally {
    client.off('error', onError)
    client.release(failed)
  }
}

/** Ready when the pool can run `select 1`. */
export function pgReadinessCheck(pool: Pool): ReadinessCheck {
  return async () => {
    await pool.query('select 1')
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The pool registered by `pgPoolPlugin` under the default decorator name. */
    pg: Pool
  }
}

export interface PgPoolPluginOptions extends PgPoolOptions {
  /** An existing pool: decorated, never closed here (its creator closes it). */
  pool?: Pool
  /** Used to create (and on close, end) a pool when `pool` is absent. */
  url?: string
  /** The decorator name; other than `pg`, read it with `app.getDecorator<Pool>(name)`. @default 'pg' */
  decorator?: string
  /** The `pool` label of the pool gauges. @default the decorator name */
  metricsName?: string
  /** Adds a readiness check named after the decorator. Opt-in. @default false */
  readinessCheck?: boolean | ReadinessCheckOptions
}

export const pgPoolPlugin = fp(
  async (app: FastifyInstance, options: PgPoolPluginOptions) => {
    const decorator = options.decorator ?? 'pg'
    const owned = options.pool === undefined
    if (owned && options.url === undefined) throw new TypeError('pgPoolPlugin needs `pool` or `url`')
    const pool = options.pool ?? createPgPool(options.url as string, { log: app.log as Logger, ...options })
    app.decorate(decorator, pool)
    if (app.hasDecorator('metrics')) app.metrics.observePgPool(pool, options.metricsName ?? decorator)
    if (options.readinessCheck) {
      const checkOptions = options.readinessCheck === true ? {} : options.readinessCheck
      app.readiness.add(decorator, pgReadinessCheck(pool), checkOptions)
    }
    if (owned) app.addHook('onClose', async () => pool.end())
  },
  { name: '@faultline/kit/pg', fastify: '5.x' },
)
