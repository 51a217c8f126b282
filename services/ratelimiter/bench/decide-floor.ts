/**
 * The decision service's two in-between ceilings in the throughput runs (compare.ts): bare Fastify
 * servers answering the service's request, `POST /v1/decide {domain, descriptors:[{key, value}]}`,
 * with the service's answer shape, and nothing else.
 *
 *   decide-echo   parses the JSON body and answers a fixed OK: what the request's shape (a POST
 *                 with a body to parse, a body to serialize) costs against the GET hello-world;
 *   decide-floor  the same, with the one decision every request needs — the library's
 *                 RedisLimiter (the sliding log's Lua script, by SHA, on the library's fail-fast
 *                 client) for the descriptor's key under the bench rule — and the status from it:
 *                 the least a decision service does. No rules file, failure policy, schema,
 *                 metrics or logging, which the decision service adds.
 */
import {
  closeLimiterRedis,
  createLimiterRedis,
  type LimitRule,
  RedisLimiter,
  waitForRedisReady,
} from '@faultline/ratelimit'
import type { FastifyInstance } from 'fastify'
import type { Close, LimiterSettings } from './candidates.ts'

interface DecideBody {
  domain: string
  descriptors: { key: string; value: string }[]
}

export function installDecideEcho(app: FastifyInstance): void {
  app.post('/v1/decide', async (request) => {
    const { descriptors } = request.body as DecideBody
    return {
      overall: 'OK',
      statuses: descriptors.map(() => ({ code: 'OK', limit: null, remaining: null, resetS: null })),
    }
  })
}

export async function installDecideFloor(app: FastifyInstance, s: LimiterSettings): Promise<Close> {
  const redis = createLimiterRedis({ url: s.redisUrl, connectionName: 'bench-floor' })
  await waitForRedisReady(redis)
  const limiter = new RedisLimiter({ redis, prefix: s.keyPrefix })
  const rule: LimitRule = { algorithm: 'sliding-log', limit: s.limit, windowMs: s.windowMs }
  app.post('/v1/decide', async (request) => {
    const { domain, descriptors } = request.body as DecideBody
    const descriptor = descriptors[0] as { key: string; value: string }
    const d = await limiter.decide(`${domain}:${descriptor.key}:${descriptor.value}`, rule)
    const code = d.allowed ? 'OK' : 'OVER_LIMIT'
    return {
      overall: code,
      statuses: [
        {
          code,
          limit: { requestsPerUnit: d.limit, unit: 'second' },
          remaining: d.remaining,
          resetS: Math.ceil(d.resetMs / 1000),
        },
      ],
    }
  })
  return () => closeLimiterRedis(redis)
}
