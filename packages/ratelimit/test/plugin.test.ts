/**
 * The plugin's registration checks and its degraded answers. No shared infra: the degraded cases
 * use a real fail-fast client pointed at a port where no Redis listens, which is what "Redis gone"
 * looks like to the process. The decisions against a live Redis are in plugin.infra.test.ts.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { Registry } from 'prom-client'
import { closeLimiterRedis, createLimiterRedis } from '../src/client.ts'
import {
  policyItem,
  RateLimitOptionsError,
  type RateLimitPluginOptions,
  rateLimitPlugin,
  serviceLimitItem,
} from '../src/fastify/index.ts'
import { RedisLimiter } from '../src/redis-limiter.ts'
import type { LimitRule } from '../src/types.ts'
import { counterValue } from './policy-support.ts'

const minute: LimitRule = { algorithm: 'sliding-log', limit: 3, windowMs: 60_000 }

async function build(
  t: { after(fn: () => unknown): void },
  options: RateLimitPluginOptions,
): Promise<FastifyInstance> {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(rateLimitPlugin, options)
  app.get('/items/:id', async () => ({ ok: true }))
  await app.ready()
  return app
}

/** A limiter whose Redis is gone: nothing listens on port 1, so every call fails at once. */
function deadLimiter(t: { after(fn: () => unknown): void }): RedisLimiter {
  const redis = createLimiterRedis({ url: 'redis://127.0.0.1:1' })
  t.after(() => closeLimiterRedis(redis))
  return new RedisLimiter({ redis })
}

test('bad options are rejected at registration, every bad field named', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  const limiter = deadLimiter(t)
  app.register(rateLimitPlugin, {
    limiter,
    legacyHeaders: 'yes',
    rules: [
      {
        name: 'api',
        key: 'cookie:session',
        limit: minute,
        match: { methods: ['FETCH'], routes: ['items'] },
        failure: { deadlineMs: -1, onFailure: 'open', breaker: false, retry: { mode: 'none' } },
      },
      { name: 'api', key: 'ip', limit: { algorithm: 'gcra', limit: 10, windowMs: 0 }, cost: 2 },
      { name: 'bad name!', key: 'header:x api', limit: { ...minute, algorithm: 'leaky' } },
    ],
  } as unknown as RateLimitPluginOptions)
  const err = await app.ready().then(
    () => undefined,
    (e: unknown) => e,
  )
  assert.ok(err instanceof RateLimitOptionsError, String(err))
  assert.deepEqual(
    err.problems.map((p) => p.split(' ')[0]),
    [
      'legacyHeaders',
      'rules[0].key',
      'rules[0].failure.deadlineMs',
      'rules[0].match.routes',
      'rules[0].match.methods',
      'rules[1].limit.windowMs',
      'rules[1].cost',
      'rules[1].name',
      'rules[2].name',
      'rules[2].key',
      'rules[2].limit.algorithm',
    ],
  )
})

test('no limiter or no rules is refused too', async (t) => {
  for (const options of [{ rules: [] }, { limiter: {}, rules: 'all' }]) {
    const app = Fastify()
    t.after(() => app.close())
    app.register(rateLimitPlugin, options as unknown as RateLimitPluginOptions)
    await assert.rejects(
      async () => app.ready(),
      (err: unknown) => {
        assert.ok(err instanceof RateLimitOptionsError)
        assert.deepEqual(err.problems, [
          'limiter must be a Limiter (an object with decide())',
          'rules must be a non-empty array',
        ])
        return true
      },
    )
  }
})

test('header values follow draft-11: sf-strings, integer seconds, t never before Retry-After', () => {
  assert.equal(policyItem('api', { algorithm: 'gcra', limit: 100, windowMs: 60_000 }), '"api";q=100;w=60')
  // A sub-second window still says w=1: the draft allows no fractions and no zero.
  assert.equal(policyItem('burst', { algorithm: 'token-bucket', limit: 5, windowMs: 200 }), '"burst";q=5;w=1')
  const allowed = { allowed: true, limit: 100, remaining: 41.6, resetMs: 16_001, retryAfterMs: 0 }
  assert.equal(serviceLimitItem('api', allowed), '"api";r=41;t=17')
  const denied = { allowed: false, limit: 100, remaining: 0, resetMs: 60_000, retryAfterMs: 1 }
  assert.equal(serviceLimitItem('api', denied), '"api";r=0;t=1')
})

test('Redis gone: a fail-open rule admits with no invented numbers; a fail-closed rule denies with Retry-After', async (t) => {
  const registry = new Registry()
  const failure = { deadlineMs: 50, breaker: false, retry: { mode: 'none' } } as const
  const app = await build(t, {
    limiter: deadLimiter(t),
    registry,
    legacyHeaders: true,
    rules: [
      {
        name: 'reads',
        key: 'ip',
        limit: minute,
        match: { methods: ['GET'] },
        failure: { ...failure, onFailure: 'open' },
      },
      {
        name: 'strict',
        key: 'header:x-api-key',
        limit: minute,
        match: { tenant: (req) => (req.headers['x-strict'] ? 'strict' : undefined) },
        failure: { ...failure, onFailure: 'closed' },
      },
    ],
  })
  const open = await app.inject({ url: '/items/1' })
  assert.equal(open.statusCode, 200)
  // The policy is still true, so it is still advertised; the remaining quota is unknown, so
  // there is no RateLimit member and no X-RateLimit-Remaining/Reset.
  assert.equal(open.headers['ratelimit-policy'], '"reads";q=3;w=60')
  assert.equal(open.headers.ratelimit, undefined)
  assert.equal(open.headers['x-ratelimit-limit'], '3')
  assert.equal(open.headers['x-ratelimit-remaining'], undefined)
  assert.equal(open.headers['x-ratelimit-reset'], undefined)

  const closed = await app.inject({ url: '/items/1', headers: { 'x-strict': '1', 'x-api-key': 'k' } })
  assert.equal(closed.statusCode, 429)
  assert.equal(closed.headers['retry-after'], '1')
  assert.equal(closed.headers.ratelimit, undefined)
  assert.equal(closed.headers['ratelimit-policy'], '"reads";q=3;w=60, "strict";q=3;w=60')
  const body = closed.json()
  assert.equal(body.code, 'RATELIMIT_ERR_LIMITED')
  assert.equal(body.rule, 'strict')
  assert.equal(body.retryAfterS, 1)
  assert.match(body.message, /unavailable/)
  assert.equal(await counterValue(registry, 'ratelimit_degraded_total', { reason: 'redis-error' }), 3)
})
