/**
 * Our candidate: `@faultline/ratelimit`'s Fastify plugin on the library's fail-fast client, one
 * rule keyed by `x-api-key`, the hardened failure policy (DEADLINE_MS and FAILURE_POLICY change it
 * for the outage runs).
 */
import {
  type AlgorithmName,
  closeLimiterRedis,
  createLimiterRedis,
  GuardedLimiter,
  hardenedFailurePolicy,
  RedisLimiter,
  waitForRedisReady,
} from '@faultline/ratelimit'
import { rateLimitPlugin } from '@faultline/ratelimit/fastify'
import type { FastifyInstance } from 'fastify'
import { Registry } from 'prom-client'
import type { Close, LimiterSettings } from './candidates.ts'

export async function installOurPlugin(app: FastifyInstance, s: LimiterSettings): Promise<Close> {
  const redis = createLimiterRedis({ url: s.redisUrl, connectionName: 'bench' })
  // The fail-fast client refuses commands until it is connected (no offline queue): a decision
  // made before that would be a degraded one, as the services avoid by waiting too.
  await waitForRedisReady(redis)
  const policy = {
    ...hardenedFailurePolicy,
    ...(s.deadlineMs !== undefined ? { deadlineMs: s.deadlineMs } : {}),
    ...(s.failurePolicy !== undefined ? { onFailure: s.failurePolicy } : {}),
    ...(s.failurePolicy === 'local' ? { localBucket: { limitShare: 1 } } : {}),
  }
  const registry = new Registry()
  const limiter = new GuardedLimiter({
    limiter: new RedisLimiter({ redis, prefix: s.keyPrefix }),
    policy,
    registry,
  })
  // Decisions the failure policy answered (deadline passed, Redis error, breaker open): a run
  // reports them, since a degraded allow is cheaper than a real decision and not counted by Redis.
  app.get('/__degraded', { config: { rateLimit: false } }, async () => {
    const metric = await registry.getSingleMetric('ratelimit_degraded_total')?.get()
    const degraded = (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0)
    return { degraded }
  })
  await app.register(rateLimitPlugin, {
    limiter,
    rules: [
      {
        name: 'bench',
        match: { routes: ['/'] },
        key: 'header:x-api-key',
        limit: { algorithm: s.algorithm as AlgorithmName, limit: s.limit, windowMs: s.windowMs },
      },
    ],
  })
  return () => closeLimiterRedis(redis)
}
