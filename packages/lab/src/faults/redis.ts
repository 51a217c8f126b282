/**
 * Redis faults: flush a database, delete keys by pattern — a cold cache or a forced expiry.
 */
import { unlinkMatching } from '@faultline/infra'
import type { Redis } from 'ioredis'
import type { Action, FaultContext } from './action.ts'

export interface RedisChoice {
  /** Which Redis: the cache (default) or the queue (BullMQ). Always the direct port. */
  redis?: 'cache' | 'queue'
}

function pickRedis(ctx: FaultContext, choice: RedisChoice): Redis {
  return choice.redis === 'queue' ? ctx.queueRedis : ctx.redis
}

/** FLUSHDB: the cache goes cold at once (pm02). */
export function flushRedis(choice: RedisChoice = {}): Action {
  return {
    kind: 'flushRedis',
    describe: `flush redis-${choice.redis ?? 'cache'}`,
    async run(ctx) {
      const redis = pickRedis(ctx, choice)
      const keys = await redis.dbsize()
      await redis.flushdb()
      return { note: `${keys} keys dropped` }
    },
  }
}

/** Delete every key matching a glob (SCAN + UNLINK): expire a hot key on demand (pm10). */
export function deleteKeys(pattern: string, choice: RedisChoice = {}): Action {
  return {
    kind: 'deleteKeys',
    describe: `delete keys ${pattern}`,
    async run(ctx) {
      const deleted = await unlinkMatching(pickRedis(ctx, choice), pattern)
      return { note: `${deleted} key${deleted === 1 ? '' : 's'} deleted` }
    },
  }
}
