import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Redis } from 'ioredis'
import type { Keys } from './keys.ts'
import type { FillLease } from './link-resolver.ts'

const releaseLeaseLua = readFileSync(new URL('./lua/release-lease-1.lua', import.meta.url), 'utf8')

type RedisWithRelease = Redis & { releaseFillLease(key: string, token: string): Promise<number> }

/**
 * Memcache-style lease (Facebook, NSDI'13) on Redis: `SET shortener:fill:<code> <token> NX PX`.
 * The holder reads Postgres and fills the cache; other instances wait for the cache instead. It
 * expires by itself (`leaseMs`), so a holder that dies costs one lease period, never a stuck key.
 */
export function createFillLease(redis: Redis, keys: Keys, leaseMs: number): FillLease {
  const client = redis as RedisWithRelease
  if (typeof client.releaseFillLease !== 'function') {
    redis.defineCommand('releaseFillLease', { numberOfKeys: 1, lua: releaseLeaseLua })
  }
  const token = randomUUID()
  return {
    async acquire(code) {
      const reply = await redis.set(keys.fillLease(code), token, 'PX', leaseMs, 'NX')
      return reply === 'OK'
    },
    async release(code) {
      await client.releaseFillLease(keys.fillLease(code), token)
    },
  }
}
