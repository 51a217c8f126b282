/**
 * The fail-fast clients against the real single Redis (through Toxiproxy) and the real Redis
 * Cluster. Run under the infra lock: `flock /tmp/faultline-infra.lock node --test <this file>`.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { redisClusterNatMap, serviceEnv } from '@faultline/infra'
import { randomId } from '@faultline/testkit'
import { closeLimiterRedis, createLimiterCluster, waitForRedisReady } from '../src/client.ts'
import { GuardedLimiter } from '../src/policy/guarded-limiter.ts'
import type { FailurePolicy } from '../src/policy/types.ts'
import { RedisLimiter } from '../src/redis-limiter.ts'
import type { LimitRule } from '../src/types.ts'
import { proxiedRedis } from './policy-support.ts'

const policy: FailurePolicy = {
  deadlineMs: 2_000,
  onFailure: 'closed',
  breaker: false,
  retry: { mode: 'none' },
}
const rule: LimitRule = { algorithm: 'sliding-log', limit: 2, windowMs: 60_000 }

test('single Redis: a command fails at once while Redis is gone and works again once it is back', async (t) => {
  const r = await proxiedRedis(t)
  if ('reason' in r) return t.skip(r.reason)
  await r.toxiproxy.withProxyDisabled(r.proxyName, async () => {
    await assert.rejects(r.redis.ping())
    await assert.rejects(r.redis.ping(), 'no queue: every command while down is refused, none waits')
  })
  // The reconnect loop never gave up: bounded polling until the client is back.
  let answer: string | undefined
  for (let i = 0; i < 50 && answer !== 'PONG'; i++) {
    answer = await r.redis.ping().catch(() => undefined)
    if (answer !== 'PONG') await sleep(100)
  }
  assert.equal(answer, 'PONG')
})

test('Redis Cluster: the fail-fast cluster client decides for keys on every master', async (t) => {
  const nodes = process.env.REDIS_CLUSTER_NODES ?? (serviceEnv().REDIS_CLUSTER_NODES as string)
  const cluster = createLimiterCluster({ nodes, natMap: redisClusterNatMap() })
  t.after(() => closeLimiterRedis(cluster))
  await waitForRedisReady(cluster, 10_000)
  const prefix = `t:${randomId()}`
  t.after(async () => {
    for (const master of cluster.nodes('master')) {
      const keys = await master.keys(`${prefix}:*`)
      if (keys.length > 0) await master.del(...keys)
    }
  })
  const guarded = new GuardedLimiter({ limiter: new RedisLimiter({ redis: cluster, prefix }), policy })
  // Sixteen keys land in slots of all three masters (hash tags spread them).
  for (let k = 0; k < 16; k++) {
    const answers = [1, 2, 3].map(() => guarded.decide(`user-${k}`, rule))
    const decisions = await Promise.all(answers)
    assert.deepEqual(
      decisions.map((d) => [d.allowed, d.degraded]).sort(),
      [
        [false, undefined],
        [true, undefined],
        [true, undefined],
      ],
      `key user-${k}`,
    )
  }
  const mastersWithKeys = []
  for (const master of cluster.nodes('master')) {
    if ((await master.keys(`${prefix}:*`)).length > 0) mastersWithKeys.push(master.options.port)
  }
  assert.equal(mastersWithKeys.length, 3, 'every master holds some of the keys')
})
