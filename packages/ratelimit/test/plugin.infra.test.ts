/**
 * The Fastify plugin deciding against a real Redis (its own key prefix per test), through
 * `app.inject()`. Run under the infra lock: `flock /tmp/faultline-infra.lock node --test <file>`.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify'
import { type RateLimitPluginOptions, rateLimitPlugin } from '../src/fastify/index.ts'
import { hardenedFailurePolicy } from '../src/policy/types.ts'
import type { LimitRule } from '../src/types.ts'
import { type ProxiedRedis, proxiedRedis } from './policy-support.ts'

const minute = (limit: number): LimitRule => ({ algorithm: 'sliding-log', limit, windowMs: 60_000 })

async function build(
  r: ProxiedRedis,
  options: Omit<RateLimitPluginOptions, 'limiter'>,
): Promise<FastifyInstance> {
  const app = Fastify()
  // Closed before the test's keys are deleted and its client quits.
  r.infra.defer(() => app.close())
  // A generous deadline: these tests are about what Redis answers, and a busy test machine can
  // take longer than the 20 ms default to answer (a degraded decision would change the headers).
  const failure = { ...hardenedFailurePolicy, deadlineMs: 2_000 }
  await app.register(rateLimitPlugin, { limiter: r.limiter, failure, ...options })
  app.get('/items/:id', async () => ({ ok: true }))
  app.post('/items', async () => ({ created: true }))
  app.get('/health', async () => ({ up: true }))
  await app.ready()
  return app
}

const statuses = async (app: FastifyInstance, n: number, request: InjectOptions) => {
  const codes: number[] = []
  for (let i = 0; i < n; i++) codes.push((await app.inject(request)).statusCode)
  return codes
}

test('allowed requests carry RateLimit-Policy and RateLimit; the one over the limit gets 429, Retry-After and the body', async (t) => {
  const r = await proxiedRedis(t)
  if ('reason' in r) return t.skip(r.reason)
  const app = await build(r, { rules: [{ name: 'api', key: 'ip', limit: minute(3) }] })
  for (const remaining of [2, 1, 0]) {
    const res = await app.inject({ url: '/items/1' })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['ratelimit-policy'], '"api";q=3;w=60')
    assert.match(String(res.headers.ratelimit), new RegExp(`^"api";r=${remaining};t=\\d+$`))
    assert.equal(res.headers['x-ratelimit-limit'], undefined, 'legacy headers are opt-in')
  }
  const denied = await app.inject({ url: '/items/1' })
  assert.equal(denied.statusCode, 429)
  const retryAfter = String(denied.headers['retry-after'])
  assert.match(retryAfter, /^[1-9]\d*$/, 'Retry-After: whole seconds, at least 1')
  assert.deepEqual(denied.json(), {
    statusCode: 429,
    error: 'Too Many Requests',
    code: 'RATELIMIT_ERR_LIMITED',
    message: `rate limit "api" exceeded; retry in ${retryAfter} s`,
    rule: 'api',
    retryAfterS: Number(retryAfter),
  })
  assert.equal(denied.headers['ratelimit-policy'], '"api";q=3;w=60')
  assert.equal(denied.headers.ratelimit, `"api";r=0;t=${retryAfter}`)
})

test('legacy X-RateLimit-* headers on request; the draft fields can be turned off', async (t) => {
  const r = await proxiedRedis(t)
  if ('reason' in r) return t.skip(r.reason)
  const app = await build(r, {
    legacyHeaders: true,
    draft: false,
    rules: [{ name: 'api', key: 'ip', limit: minute(2) }],
  })
  const first = await app.inject({ url: '/items/1' })
  assert.equal(first.headers['x-ratelimit-limit'], '2')
  assert.equal(first.headers['x-ratelimit-remaining'], '1')
  assert.match(String(first.headers['x-ratelimit-reset']), /^\d+$/)
  assert.equal(first.headers['ratelimit-policy'], undefined)
  assert.equal(first.headers.ratelimit, undefined)
  await app.inject({ url: '/items/1' })
  const denied = await app.inject({ url: '/items/1' })
  assert.equal(denied.statusCode, 429)
  assert.equal(denied.headers['x-ratelimit-remaining'], '0')
  assert.equal(denied.headers['x-ratelimit-reset'], denied.headers['retry-after'])
})

test('rules match by route pattern and method, key by header (else IP) or by function, per tenant', async (t) => {
  const r = await proxiedRedis(t)
  if ('reason' in r) return t.skip(r.reason)
  const app = await build(r, {
    rules: [
      {
        name: 'item-reads',
        match: { routes: ['/items/:id'], methods: ['GET'] },
        key: 'ip',
        limit: minute(2),
      },
      { name: 'writes', match: { methods: ['post'] }, key: 'header:x-api-key', limit: minute(1) },
      {
        name: 'free-plan',
        match: { tenant: (req) => (req.headers['x-plan'] === 'free' ? 'free' : undefined) },
        key: (req) => req.headers['x-user'] as string | undefined,
        limit: minute(1),
      },
    ],
  })
  // No rule matches the health route for a client with no plan: no headers, never limited.
  const health = await app.inject({ url: '/health' })
  assert.equal(health.headers['ratelimit-policy'], undefined)
  assert.deepEqual(await statuses(app, 3, { url: '/health' }), [200, 200, 200])

  // One quota for the route pattern, whatever the id.
  assert.deepEqual(
    [
      (await app.inject({ url: '/items/1' })).statusCode,
      (await app.inject({ url: '/items/2' })).statusCode,
      (await app.inject({ url: '/items/3' })).statusCode,
    ],
    [200, 200, 429],
  )
  assert.equal((await app.inject({ url: '/items/4' })).json().rule, 'item-reads')

  // Writes: one per API key; without the header, one per client address.
  const post = (headers: Record<string, string> = {}) => ({ method: 'POST' as const, url: '/items', headers })
  assert.deepEqual(await statuses(app, 2, post({ 'x-api-key': 'A' })), [200, 429])
  assert.deepEqual(await statuses(app, 2, post({ 'x-api-key': 'B' })), [200, 429])
  assert.deepEqual(await statuses(app, 2, post()), [200, 429])

  // The free plan: one per user; a request the key function cannot key is exempt.
  const free = (user?: string) => ({
    url: '/health',
    headers: { 'x-plan': 'free', ...(user ? { 'x-user': user } : {}) },
  })
  const u1 = await app.inject(free('u1'))
  assert.equal(u1.headers['ratelimit-policy'], '"free-plan";q=1;w=60')
  assert.equal((await app.inject(free('u1'))).statusCode, 429)
  assert.equal((await app.inject(free('u2'))).statusCode, 200)
  assert.deepEqual(await statuses(app, 2, free()), [200, 200])
})

test('several matching rules are all decided and listed; the most restrictive answers', async (t) => {
  const r = await proxiedRedis(t)
  if ('reason' in r) return t.skip(r.reason)
  const app = await build(r, {
    legacyHeaders: true,
    rules: [
      { name: 'sustained', key: 'ip', limit: minute(5) },
      { name: 'burst', key: 'ip', limit: { algorithm: 'sliding-log', limit: 2, windowMs: 1_000 } },
    ],
  })
  const first = await app.inject({ url: '/items/1' })
  assert.equal(first.headers['ratelimit-policy'], '"sustained";q=5;w=60, "burst";q=2;w=1')
  assert.match(String(first.headers.ratelimit), /^"sustained";r=4;t=\d+, "burst";r=1;t=\d+$/)
  // The legacy trio describes one policy: the one closest to denying.
  assert.equal(first.headers['x-ratelimit-limit'], '2')
  assert.equal(first.headers['x-ratelimit-remaining'], '1')
  await app.inject({ url: '/items/1' })
  const denied = await app.inject({ url: '/items/1' })
  assert.equal(denied.statusCode, 429)
  assert.equal(denied.json().rule, 'burst')
})

test('a cost function spends several units; a bad cost is a 400 naming the field', async (t) => {
  const r = await proxiedRedis(t)
  if ('reason' in r) return t.skip(r.reason)
  const app = await build(r, {
    rules: [
      { name: 'batch', key: 'ip', limit: minute(5), cost: (req) => Number(req.headers['x-items'] ?? 1) },
    ],
  })
  const three = await app.inject({ method: 'POST', url: '/items', headers: { 'x-items': '3' } })
  assert.match(String(three.headers.ratelimit), /^"batch";r=2;t=\d+$/)
  assert.equal(
    (await app.inject({ method: 'POST', url: '/items', headers: { 'x-items': '3' } })).statusCode,
    429,
  )
  const bad = await app.inject({ method: 'POST', url: '/items', headers: { 'x-items': '0' } })
  assert.equal(bad.statusCode, 400)
  assert.equal(bad.json().code, 'RATELIMIT_ERR_BAD_COST')
  assert.match(bad.json().message, /^cost /)
})

test("a request refused for a bad cost spends no other rule's quota", async (t) => {
  const r = await proxiedRedis(t)
  if ('reason' in r) return t.skip(r.reason)
  const app = await build(r, {
    rules: [
      { name: 'per-ip', key: 'ip', limit: minute(2) },
      { name: 'batch', key: 'ip', limit: minute(5), cost: (req) => Number(req.headers['x-items'] ?? 1) },
    ],
  })
  assert.equal((await app.inject({ url: '/health', headers: { 'x-items': '-1' } })).statusCode, 400)
  const next = await app.inject({ url: '/health' })
  assert.match(String(next.headers.ratelimit), /^"per-ip";r=1;t=\d+, "batch";r=4;t=\d+$/)
})
