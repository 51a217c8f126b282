/**
 * ioredis clients with choices made for a lab whose Redis gets hung, slowed and restarted on
 * purpose: fail a command fast instead of waiting through many reconnects, and never crash on
 * an unhandled 'error' event.
 */
import { once } from 'node:events'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import { type Logger, rateLimitedLog } from '../logging.ts'
import type { ReadinessCheck, ReadinessCheckOptions } from '../readiness.ts'

export type { Redis } from 'ioredis'

export interface RedisClientOptions {
  /** What this connection is for (`cache`, `queue`): the CLIENT SETNAME and the log field. */
  name: string
  /** Prepended to every key (not to SCAN patterns: ioredis does not rewrite those). */
  keyPrefix?: string
  /** Connect on the first command (or `connect()`) instead of at once. @default false */
  lazyConnect?: boolean
  /**
   * Reconnect attempts a command waits through before it fails. ioredis' default, 20, holds a
   * command for many seconds while Redis is down; 1 turns an outage into fast errors the service
   * can handle (fall back to Postgres, shed load). BullMQ connections need `null`. @default 1
   */
  maxRetriesPerRequest?: number | null
  /**
   * Queue commands issued while (re)connecting instead of failing them at once. On, so start-up
   * is not racy; `maxRetriesPerRequest` still bounds how long a queued command waits. @default true
   */
  enableOfflineQueue?: boolean
  /** @default 5000 */
  connectTimeoutMs?: number
  /** Fails a command that got no reply after this long (a hung Redis). Unset: no limit. */
  commandTimeoutMs?: number
  /** Delay before reconnect attempt `times`, or null to stop. @default min(times × 50, 2000) ms */
  retryStrategy?: (times: number) => number | null
  /** Where connection errors are logged: at most one line per 5 s, with the count suppressed. */
  log?: Logger
}

/** A reconnect loop emits an error per attempt; one log line per this many ms is enough. */
const errorLogIntervalMs = 5000

export function createRedis(url: string, options: RedisClientOptions): Redis {
  const redis = new Redis(url, {
    connectionName: options.name,
    lazyConnect: options.lazyConnect ?? false,
    maxRetriesPerRequest: options.maxRetriesPerRequest === undefined ? 1 : options.maxRetriesPerRequest,
    enableOfflineQueue: options.enableOfflineQueue ?? true,
    connectTimeout: options.connectTimeoutMs ?? 5000,
    ...(options.keyPrefix ? { keyPrefix: options.keyPrefix } : {}),
    ...(options.commandTimeoutMs ? { commandTimeout: options.commandTimeoutMs } : {}),
    ...(options.retryStrategy ? { retryStrategy: options.retryStrategy } : {}),
  })
  // ioredis reconnects by itself; the listener keeps the event from being "unhandled".
  const logError = rateLimitedLog<{ err: unknown }>(errorLogIntervalMs, (obj) =>
    options.log?.warn({ ...obj, redis: options.name }, 'redis connection error'),
  )
  redis.on('error', (err) => logError({ err }))
  return redis
}

/** Ready when Redis answers PING. */
export function redisReadinessCheck(redis: Redis): ReadinessCheck {
  return async () => {
    await redis.ping()
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The client registered by `redisPlugin` under the default decorator name. */
    redis: Redis
  }
}

export interface RedisPluginOptions extends Partial<RedisClientOptions> {
  /** An existing client: decorated, never closed here (its creator closes it). */
  redis?: Redis
  /** Used to create (and on close, quit) a client when `redis` is absent. */
  url?: string
  /** The decorator name; other than `redis`, read it with `app.getDecorator<Redis>(name)`. @default 'redis' */
  decorator?: string
  /** Adds a readiness check named after the decorator. Opt-in. @default false */
  readinessCheck?: boolean | ReadinessCheckOptions
}

export const redisPlugin = fp(
  async (app: FastifyInstance, options: RedisPluginOptions) => {
    const decorator = options.decorator ?? 'redis'
    const owned = options.redis === undefined
    if (owned && options.url === undefined) throw new TypeError('redisPlugin needs `redis` or `url`')
    const redis =
      options.redis ??
      createRedis(options.url as string, {
        log: app.log as Logger,
        ...options,
        name: options.name ?? decorator,
      })
    app.decorate(decorator, redis)
    if (options.readinessCheck) {
      const checkOptions = options.readinessCheck === true ? {} : options.readinessCheck
      app.readiness.add(decorator, redisReadinessCheck(redis), checkOptions)
    }
    if (owned) {
      app.addHook('onClose', async () => {
        // QUIT lets pending replies arrive; a client that is not connected is just disconnected.
        // Either way wait for 'end', so the socket is gone when close() resolves.
        if (redis.status === 'end') return
        const ended = once(redis, 'end')
        if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect())
        else redis.disconnect()
        await ended
      })
    }
  },
  { name: '@faultline/kit/redis', fastify: '5.x' },
)
