/**
 * The read path's metrics, registered on the app's registry (never prom-client's global one).
 * A second reader on the same registry reuses the first one's counters instead of throwing.
 */
import { withPgClient } from '@faultline/kit/clients'
import type pg from 'pg'
import type { QueryResultRow } from 'pg'
import { Counter, type Metric, type Registry } from 'prom-client'
import type { ReadRoute } from '../session-lsn.ts'

export interface ReaderMetrics {
  /** `feed_timeline_reads_total{result=hit|rebuilt|rebuilding}`: a page served from a built timeline, after a rebuild, or a 206. */
  reads: Counter<'result'>
  /** `feed_rebuilds_total{outcome=done|shared|rejected|failed}`, one per read that needed a rebuild. */
  rebuilds: Counter<'outcome'>
  /** `feed_rebuild_queries_total`: timeline queries sent to Postgres by rebuilds (pm02's load). */
  rebuildQueries: Counter
  /** `feed_ryw_route_total{target=primary|replica}`: where a read of the user's own data went. */
  rywRoute: Counter<'target'>
  /** `feed_hydrate_misses_total`: post ids the post cache did not have (read from Postgres). */
  hydrateMisses: Counter
  /** `feed_db_queries_total{pool, op}`, the API's series (metrics.ts): the read side's statements. */
  dbQueries: Counter<'pool' | 'op'>
}

export function createReaderMetrics(registry: Registry): ReaderMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []): Counter<L> =>
    (registry.getSingleMetric(name) as Metric<L> as Counter<L> | undefined) ??
    new Counter<L>({ name, help, labelNames, registers: [registry] })
  return {
    reads: counter('feed_timeline_reads_total', 'timeline pages read, by result', ['result']),
    rebuilds: counter('feed_rebuilds_total', 'reads of a cold timeline, by rebuild outcome', ['outcome']),
    rebuildQueries: counter('feed_rebuild_queries_total', 'timeline rebuild queries sent to Postgres'),
    rywRoute: counter('feed_ryw_route_total', "reads of a user's own recent posts, by pool", ['target']),
    hydrateMisses: counter('feed_hydrate_misses_total', 'post ids missing from the post cache'),
    dbQueries: counter(
      'feed_db_queries_total',
      'Postgres statements or transactions issued by the API, by pool and operation',
      ['pool', 'op'],
    ),
  }
}

/** The read side's Postgres statements, as the `op` label of `feed_db_queries_total`. */
export type ReadOp =
  | 'user_exists'
  | 'timeline_rebuild'
  | 'followed_celebrities'
  | 'author_recent'
  | 'own_recent'
  | 'hydrate'

/** Runs one statement on a routed pool and counts it in `feed_db_queries_total{pool, op}`. */
export function countedQuery<R extends QueryResultRow>(
  metrics: ReaderMetrics,
  route: ReadRoute,
  op: ReadOp,
  sql: string,
  params: unknown[],
): Promise<pg.QueryResult<R>> {
  metrics.dbQueries.inc({ pool: route.target, op })
  return route.pool.query<R>(sql, params)
}

/**
 * The same, under a `statement_timeout` of its own instead of the pool's (PG_STATEMENT_TIMEOUT_MS):
 * `SET LOCAL` inside a transaction on one checked-out connection, so the connection goes back to
 * the pool with the pool's timeout (a failure destroys it instead: `withPgClient`).
 */
export function countedQueryWithTimeout<R extends QueryResultRow>(
  metrics: ReaderMetrics,
  route: ReadRoute,
  op: ReadOp,
  sql: string,
  params: unknown[],
  statementTimeoutMs: number,
): Promise<pg.QueryResult<R>> {
  metrics.dbQueries.inc({ pool: route.target, op })
  return withPgClient(route.pool, async (client): Promise<pg.QueryResult<R>> => {
    await client.query('BEGIN')
    await client.query(`SET LOCAL statement_timeout = ${Math.trunc(statementTimeoutMs)}`)
    // The pool's client-side query_timeout (its statement timeout + 500 ms) would end it first;
    // pg reads a query's own `query_timeout` (lib/client.js), which its types leave out.
    const query: pg.QueryConfig & { query_timeout: number } = {
      text: sql,
      values: params,
      query_timeout: statementTimeoutMs + 500,
    }
    const result = await client.query<R>(query)
    await client.query('COMMIT')
    return result
  })
}
