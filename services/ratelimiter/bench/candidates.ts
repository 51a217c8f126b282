/**
 * The limiters the benchmark compares, each installed the way its documentation shows, keyed by
 * the `x-api-key` header with the same limit and window:
 *
 *   plugin                  @faultline/ratelimit's Fastify plugin (one Lua script per decision,
 *                           on Redis time; the algorithm is a knob)
 *   fastify-rate-limit      @fastify/rate-limit's Redis store: a fixed window (INCR + PEXPIRE in
 *                           one script), the most used Fastify limiter
 *   rate-limiter-flexible   RateLimiterRedis: a fixed window too (its `consume`), the most used
 *                           Node limiter outside a framework
 *
 * and the decision service's in-between ceilings, `decide-echo` and `decide-floor`
 * (decide-floor.ts).
 */
import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible'
import { installOurPlugin } from './our-plugin.ts'

export const candidateNames = [
  'hello',
  'plugin',
  'fastify-rate-limit',
  'rate-limiter-flexible',
  'decide-echo',
  'decide-floor',
] as const
export type CandidateName = (typeof candidateNames)[number]

export interface LimiterSettings {
  redisUrl: string
  algorithm: string
  limit: number
  windowMs: number
  keyPrefix: string
  /** Our plugin's failure policy in the outage runs (the peers have none to set). */
  deadlineMs?: number
  failurePolicy?: 'open' | 'closed' | 'local'
}

/** Closes what the limiter opened. */
export type Close = () => Promise<void>

export function apiKeyOf(headers: Record<string, string | string[] | undefined>, ip: string): string {
  const key = headers['x-api-key']
  return typeof key === 'string' && key !== '' ? key : ip
}

async function installFastifyRateLimit(app: FastifyInstance, s: LimiterSettings): Promise<Close> {
  // A plain ioredis client, as the peer's README shows.
  const redis = new Redis(s.redisUrl)
  await app.register(fastifyRateLimit, {
    max: s.limit,
    timeWindow: s.windowMs,
    redis,
    nameSpace: `${s.keyPrefix}:frl:`,
    keyGenerator: (req) => apiKeyOf(req.headers, req.ip),
    // Errors reach the client as errors: the benchmark compares decisions, not error handling.
    skipOnError: false,
  })
  return async () => {
    await redis.quit()
  }
}

function installRateLimiterFlexible(app: FastifyInstance, s: LimiterSettings): Close {
  const redis = new Redis(s.redisUrl)
  const limiter = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: `${s.keyPrefix}:rlf`,
    points: s.limit,
    duration: s.windowMs / 1000,
  })
  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.config?.rateLimit === false) return
    try {
      await limiter.consume(apiKeyOf(req.headers, req.ip))
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection
      const retryAfterS = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000))
      return reply.code(429).header('retry-after', String(retryAfterS)).send({ statusCode: 429 })
    }
  })
  return async () => {
    await redis.quit()
  }
}

export async function installLimiter(
  app: FastifyInstance,
  candidate: Exclude<CandidateName, 'hello' | 'decide-echo' | 'decide-floor'>,
  settings: LimiterSettings,
): Promise<Close> {
  if (candidate === 'fastify-rate-limit') return installFastifyRateLimit(app, settings)
  if (candidate === 'rate-limiter-flexible') return installRateLimiterFlexible(app, settings)
  return installOurPlugin(app, settings)
}
