import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Redis } from 'ioredis'
import type { Keys } from '../keys.ts'

const releaseLua = readFileSync(new URL('./release-lease-1.lua', import.meta.url), 'utf8')

type RedisWithRelease = Redis & { feedReleaseRebuildLease(key: string, token: string): Promise<number> }

/**
 * The cross-instance half of rebuildSingleFlight: a memcache-style lease (Facebook, NSDI'13),
 * `SET feed:rebuild:<user> <token> NX PX`. The holder queries Postgres and builds the timeline;
 * other instances wait for the timeline instead of querying too. It expires by itself
 * (REBUILD_LEASE_MS), so a holder that dies costs one lease period, never a stuck key.
 */
export interface RebuildLease {
  /** True when this process holds the lease of `userId`'s rebuild now. */
  acquire(userId: string): Promise<boolean>
  release(userId: string): Promise<void>
  /** True while someone (any instance) holds it: a rebuild of this timeline is under way. */
  held(userId: string): Promise<boolean>
}

export function createRebuildLease(redis: Redis, keys: Keys, leaseMs: number): RebuildLease {
  const client = redis as RedisWithRelease
  if (typeof client.feedReleaseRebuildLease !== 'function') {
    redis.defineCommand('feedReleaseRebuildLease', { numberOfKeys: 1, lua: releaseLua })
  }
  const token = randomUUID()
  return {
    async acquire(userId) {
      return (await redis.set(keys.rebuildLease(userId), token, 'PX', leaseMs, 'NX')) === 'OK'
    },
    async release(userId) {
      await client.feedReleaseRebuildLease(keys.rebuildLease(userId), token)
    },
    async held(userId) {
      return (await redis.exists(keys.rebuildLease(userId))) === 1
    },
  }
}
