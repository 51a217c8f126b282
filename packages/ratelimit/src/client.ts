/**
 * ioredis clients for the limiter. A decision has a deadline of a few milliseconds, so the client
 * must never make a caller wait for Redis to come back: with ioredis's defaults a command issued
 * while Redis is down waits in an offline queue through up to 20 reconnects (tens of seconds),
 * which is the 1–10 s of added latency envoyproxy/ratelimit's users report (#462, #978). The
 * fail-fast clients below reject such a command at once; the failure policy then answers.
 *
 * `failFast: false` gives the naive client pm19 runs against: the defaults most applications
 * ship, where a dead Redis makes callers hang.
 */
import { once } from 'node:events'
import { backoffDelayMs } from '@faultline/resilience'
import { Cluster, type ClusterOptions, type NatMap, Redis, type RedisOptions } from 'ioredis'

export interface LimiterRedisOptions {
  url: string
  /** `false`: the naive client (offline queue, commands wait through every reconnect). Default true. */
  failFast?: boolean
  /** CLIENT SETNAME, to find the limiter's connections in `CLIENT LIST`. Default `ratelimit`. */
  connectionName?: string
  /** How long a TCP connect may take before it is abandoned and retried. Default 1000 ms. */
  connectTimeoutMs?: number
  /** Connection errors (a reconnect loop emits one per attempt); default: ignored. */
  onError?: (err: Error) => void
}

export interface LimiterClusterOptions {
  /** Seed nodes: `host:port` strings (or one comma-separated string, as in `REDIS_CLUSTER_NODES`). */
  nodes: string | ReadonlyArray<string | { host: string; port: number }>
  failFast?: boolean
  connectionName?: string
  connectTimeoutMs?: number
  /**
   * Maps the addresses the cluster announces to ones this process can reach (a cluster inside
   * Docker announcing container IPs to a client on the host). Passed to ioredis unchanged.
   */
  natMap?: NatMap
  onError?: (err: Error) => void
}

const DEFAULT_CONNECT_TIMEOUT_MS = 1_000

/**
 * Reconnect for ever (the limiter must come back when Redis does) but never faster than
 * 50 ms × 2ⁿ and never slower than 1 s between tries. Bounded delay, not bounded attempts: with
 * the offline queue off no caller waits on this loop, so it costs nothing to keep it going, and a
 * strategy that gave up would leave the process degraded until restarted.
 */
export function reconnectDelayMs(times: number): number {
  return Math.round(backoffDelayMs(times - 1, { backoff: 'equal-jitter', baseMs: 50, capMs: 1_000 }))
}

/** Options that make a single Redis client fail fast; each line says why. */
function failFastRedisOptions(connectTimeoutMs: number): RedisOptions {
  return {
    // A command issued while the connection is down is rejected at once instead of queued until
    // Redis is back: the caller's deadline, not the reconnect loop, bounds its wait.
    enableOfflineQueue: false,
    // A command in flight when the connection drops is failed on that first close instead of
    // being held for more reconnects (ioredis default: 20).
    maxRetriesPerRequest: 0,
    // And it is never re-sent after a reconnect: a decision script is not idempotent, so a resend
    // could count one request twice (and its caller has answered long ago anyway).
    autoResendUnfulfilledCommands: false,
    // A black-holed Redis (SYN dropped) is noticed in a second, not ioredis's 10.
    connectTimeout: connectTimeoutMs,
    retryStrategy: reconnectDelayMs,
    // No auto-pipelining: the limiter's script runner (scripts.ts) holds the connection's writes
    // until the end of the event-loop turn instead, so the decisions of one turn still leave in
    // one write and arrive in one read (which raised throughput by a third over one write per
    // decision), without the Pipeline and the two promises ioredis adds to every command (see
    // docs/ratelimiter.md, "The fail-fast Redis client").
    enableAutoPipelining: false,
  }
}

export function createLimiterRedis(options: LimiterRedisOptions): Redis {
  const {
    url,
    failFast = true,
    connectionName = 'ratelimit',
    connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
  } = options
  const redis = new Redis(url, {
    connectionName,
    ...(failFast
      ? failFastRedisOptions(connectTimeoutMs)
      : // The naive client: ioredis's defaults plus "never lose a command", a common setting
        // (BullMQ requires it): every command waits, however long Redis is gone.
        { maxRetriesPerRequest: null }),
  })
  // Without a listener an 'error' event (one per failed reconnect) would crash the process.
  redis.on('error', (err: Error) => options.onError?.(err))
  return redis
}

function parseNodes(nodes: LimiterClusterOptions['nodes']): Array<{ host: string; port: number }> {
  const list = typeof nodes === 'string' ? nodes.split(',') : nodes
  return list.map((node) => {
    if (typeof node !== 'string') return node
    const trimmed = node.trim()
    const colon = trimmed.lastIndexOf(':')
    const port = Number(trimmed.slice(colon + 1))
    if (colon <= 0 || !Number.isInteger(port) || port <= 0) {
      throw new TypeError(`cluster node "${trimmed}" is not host:port`)
    }
    return { host: trimmed.slice(0, colon), port }
  })
}

export function createLimiterCluster(options: LimiterClusterOptions): Cluster {
  const {
    failFast = true,
    connectionName = 'ratelimit',
    connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
  } = options
  const nodes = parseNodes(options.nodes)
  if (nodes.length === 0) throw new TypeError('createLimiterCluster needs at least one seed node')
  const natMap = options.natMap ? { natMap: options.natMap } : {}
  const clusterOptions: ClusterOptions = failFast
    ? {
        ...natMap,
        // As for one Redis: no queue of commands waiting for the cluster to be reachable.
        enableOfflineQueue: false,
        // As for one Redis: one write per node for the decisions of one event-loop turn.
        enableAutoPipelining: true,
        // Per-node connections: fail in-flight commands on a lost connection, never resend them.
        redisOptions: {
          connectionName,
          maxRetriesPerRequest: 0,
          autoResendUnfulfilledCommands: false,
          connectTimeout: connectTimeoutMs,
        },
        // When a master dies, commands to its slots fail with "Connection is closed" and are
        // retried after this delay against a refreshed slot map; 100 ms (the default) per retry is
        // long beside a 20 ms deadline, and a failover is found sooner with shorter waits.
        retryDelayOnFailover: 20,
        // CLUSTERDOWN while a replica is being promoted, TRYAGAIN during a resharding: same reason.
        retryDelayOnClusterDown: 20,
        retryDelayOnTryAgain: 20,
        // Asking a dead node for the slot map must not take a second (the default); a live node on
        // this network answers in well under a millisecond.
        slotsRefreshTimeout: 200,
        // Refresh the slot map every second (default 5 s) so a promoted replica is used soon after
        // the cluster announces it, even before a command to the dead master fails.
        slotsRefreshInterval: 1_000,
        // Reconnecting to the whole cluster (every node unreachable) on the same bounded delay.
        clusterRetryStrategy: reconnectDelayMs,
        // Reads go to masters (the default, said here because it matters): a limiter must read
        // the counter it just wrote, and a replica lags.
        scaleReads: 'master',
      }
    : {
        ...natMap,
        // The naive cluster client: ioredis's defaults (offline queue on) and commands that
        // wait through every reconnect.
        redisOptions: { connectionName, maxRetriesPerRequest: null },
      }
  const cluster = new Cluster(nodes, clusterOptions)
  cluster.on('error', (err: Error) => options.onError?.(err))
  cluster.on('node error', (err: Error) => options.onError?.(err))
  return cluster
}

/**
 * Resolves once the client is ready, or rejects after `timeoutMs`. With the offline queue off a
 * command sent before the first connect fails, so a service waits for this before listening.
 */
export async function waitForRedisReady(client: Redis | Cluster, timeoutMs = 5_000): Promise<void> {
  if (client.status === 'ready') return
  const signal = AbortSignal.timeout(timeoutMs)
  try {
    await once(client, 'ready', { signal })
  } catch (err) {
    if (signal.aborted) throw new Error(`redis not ready after ${timeoutMs} ms (status ${client.status})`)
    throw err
  }
}

/** Closes the client and waits until its sockets are gone; never hangs on a dead or slow Redis. */
export async function closeLimiterRedis(client: Redis | Cluster, timeoutMs = 1_000): Promise<void> {
  if (client.status === 'end') return
  const ended = once(client, 'end')
  // QUIT lets replies in flight arrive; a Redis that does not answer it in time is cut off.
  if (client.status === 'ready') {
    const quit = client.quit().catch(() => {})
    await Promise.race([quit, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())])
  }
  // (Read again: QUIT may have ended it meanwhile.)
  if ((client.status as string) === 'end') return
  client.disconnect()
  // A client between reconnects has no socket to close and never emits 'end': once its
  // reconnect timer is cleared (disconnect does that) there is nothing left to wait for.
  if (client.status === 'reconnecting' || client.status === 'close') return
  await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())])
}
