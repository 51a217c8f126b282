/**
 * Each algorithm against the real single Redis (through Toxiproxy, as services reach it):
 * admission up to the limit, cost, remaining/reset/retry-after, the key's expiry, NOSCRIPT
 * recovery (the checks shared with cluster.infra.test.ts), and one round trip per decision.
 * Input errors need no Redis: algorithms.test.ts.
 */
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type TestInfra, testInfra } from '@faultline/testkit'
import { Redis } from 'ioredis'
import { RedisLimiter } from '../src/redis-limiter.ts'
import type { LimitRule } from '../src/types.ts'
import { algorithmChecks, type CheckContext } from './algorithm-checks.ts'

async function setup(t: TestContext): Promise<CheckContext & { infra: TestInfra; redis: Redis }> {
  const infra = await testInfra(t, { need: ['redis'] })
  const redis = new Redis(infra.urls.redisUrl, { maxRetriesPerRequest: 1 })
  infra.defer(() => redis.disconnect())
  const limiter = new RedisLimiter({ redis, prefix: `${infra.keyPrefix()}ratelimit` })
  return { infra, redis, limiter, scriptNodes: () => [redis] }
}

for (const check of algorithmChecks) {
  test(check.name, async (t) => check.run(await setup(t)))
}

test('one round trip per decision: EVALSHA once the script is loaded', async (t) => {
  const { infra, limiter } = await setup(t)
  const rule: LimitRule = { algorithm: 'sliding-log', limit: 100, windowMs: 60_000 }
  await limiter.decide('k', rule) // loads the script on this connection
  // MONITOR on another connection to the same Redis: every command, including the scripts' own.
  const base = new Redis(infra.urls.redisUrl)
  const monitor = await base.monitor()
  infra.defer(() => {
    monitor.disconnect()
    base.disconnect()
  })
  const key = limiter.keys.scriptKeys('sliding-log', 'k')[0] as string
  const sent: string[] = []
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua' && args.includes(key)) sent.push(String(args[0]).toLowerCase())
  })
  for (let i = 0; i < 5; i++) await limiter.decide('k', rule)
  // MONITOR's feed trails the replies: wait until all five arrived (bounded).
  for (let i = 0; i < 50 && sent.length < 5; i++) await sleep(20)
  assert.deepEqual(sent, ['evalsha', 'evalsha', 'evalsha', 'evalsha', 'evalsha'])
})
