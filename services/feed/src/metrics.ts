/**
 * The API process's own series (`feed_*`), on the kit's per-app registry (so a test's instances
 * each start from zero). The read side (timeline/*) registers its series on the same registry.
 */
import type { Metrics, PoolCounts } from '@faultline/kit/metrics'
import type { Counter } from 'prom-client'

export type PoolName = 'primary' | 'replica'

/** The write operations, as the `op` label of `feed_writes_total` and `feed_after_commit_failures_total`. */
export type WriteOp = 'create_user' | 'follow' | 'unfollow' | 'create_post' | 'delete_post'

export interface ApiMetrics {
  /** Postgres statements (or transactions) issued by the API, by pool and operation. */
  dbQueries: Counter<'pool' | 'op'>
  /** Writes by outcome: `done`, `noop` (an idempotent repeat), `conflict`, `not_found`, `invalid`, `error`. */
  writes: Counter<'op' | 'outcome'>
  /**
   * A side effect after a commit failed (Redis down, a timeout): the write stands, and the worker or
   * the read path repairs the cache. Above zero = some timelines or caches are briefly stale.
   */
  afterCommitFailures: Counter<'op' | 'effect'>
}

export function createApiMetrics(metrics: Metrics, pools: Record<PoolName, PoolCounts>): ApiMetrics {
  // pg_pool_clients_total{pool}, pg_pool_clients_idle{pool}, pg_pool_requests_waiting{pool}.
  metrics.observePgPool(pools.primary, 'primary')
  metrics.observePgPool(pools.replica, 'replica')
  return {
    dbQueries: metrics.counter({
      name: 'feed_db_queries_total',
      help: 'Postgres statements or transactions issued by the API, by pool and operation',
      labelNames: ['pool', 'op'],
    }),
    writes: metrics.counter({
      name: 'feed_writes_total',
      help: 'API writes by operation and outcome (done, noop, conflict, not_found, invalid, error)',
      labelNames: ['op', 'outcome'],
    }),
    afterCommitFailures: metrics.counter({
      name: 'feed_after_commit_failures_total',
      help: 'Cache side effects that failed after a committed write (repaired by the worker or the read path)',
      labelNames: ['op', 'effect'],
    }),
  }
}
