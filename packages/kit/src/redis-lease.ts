import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Redis } from 'ioredis'

const releaseLua = readFileSync(new URL('./lua/release-lease-1.lua', import.meta.url), 'utf8')

type RedisWithRelease = Redis & { faultlineReleaseLease(key: string, token: string): Promise<number> }

/**
 * Lets one instance at a time do the expensive thing for an id (fill a cache entry, rebuild a
 * timeline) while the others wait for its result: a memcache-style lease (Facebook, NSDI'13),
 * `SET <key> <token> NX PX <leaseMs>`. It expires by itself, so a holder that dies costs one lease
 * period, never a stuck key; the release deletes the key only while it still holds this
 * process's token, so a holder finishing after its lease expired cannot free the next holder's.
 */
export interface RedisLease {
  /** True when this process holds the lease of `id` now. */
  acquire(id: string): Promise<boolean>
  /** Lets go of the lease of `id` if this process still holds it; a no-op otherwise. */
  release(id: string): Promise<void>
  /** True while anyone (any instance) holds the lease of `id`. */
  held(id: string): Promise<boolean>
}

export interface RedisLeaseOptions {
  /** The lease key of an id, from the service's one key builder (e.g. `keys.fillLease`). */
  key(id: string): string
  /** How long a lease lasts when its holder never releases it. */
  leaseMs: number
}

/**
 * A lease on `redis` with one random token for this process: the callers in one process share
 * one flight per id (SingleFlight), so the lease only has to tell processes apart.
 */
export function createRedisLease(redis: Redis, options: RedisLeaseOptions): RedisLease {
  const client = redis as RedisWithRelease
  if (typeof client.faultlineReleaseLease !== 'function') {
    redis.defineCommand('faultlineReleaseLease', { numberOfKeys: 1, lua: releaseLua })
  }
  const { key, leaseMs } = options
  const token = randomUUID()
  return {
    async acquire(id) {
      return (await redis.set(key(id), token, 'PX', leaseMs, 'NX')) === 'OK'
    },
    async release(id) {
      await client.faultlineReleaseLease(key(id), token)
    },
    async held(id) {
      return (await redis.exists(key(id))) === 1
    },
  }
}
