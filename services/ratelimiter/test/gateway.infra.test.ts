/**
 * The demo gateway against real Redis: the object graph gateway.ts runs (createGateway +
 * buildGatewayApp), with a random key prefix per test. Long windows (a minute) so no assertion
 * depends on how fast the machine is.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { createLimiterRedis, waitForRedisReady } from '@faultline/ratelimit'
import { testInfra } from '@faultline/testkit'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { buildGatewayApp } from '../src/gateway-app.ts'
import { createGateway, type Gateway } from '../src/gateway-components.ts'
import { loadGatewayConfig } from '../src/gateway-config.ts'
import { type GatewayRule, loadRulesFile } from '../src/gateway-rules.ts'

interface Started {
  app: FastifyInstance
  gateway: Gateway
}

/** Gateway instances sharing one Redis and one key prefix, closed after the test. */
async function gateways(
  t: test.TestContext,
  env: Record<string, string>,
  options: {
    instances?: number
    redisUrl?: string
    rules?: (env: Record<string, string>) => GatewayRule[]
  } = {},
): Promise<Started[]> {
  const infra = await testInfra(t, { need: ['redis'] })
  const prefix = infra.keyPrefix()
  const started: Started[] = []
  for (let i = 0; i < (options.instances ?? 1); i++) {
    const config = loadGatewayConfig({
      REDIS_KEY_PREFIX: prefix,
      INSTANCE_ID: `gw-${i}`,
      // The 20 ms default is a production deadline; on a busy test machine a decision may take
      // longer and be answered by the failure policy, which these tests do not mean to test
      // ("with Redis gone" does, against a dead one).
      DECISION_DEADLINE_MS: '2000',
      ...env,
    })
    const redis: Redis = createLimiterRedis({ url: options.redisUrl ?? infra.urls.redisUrl })
    infra.defer(() => redis.disconnect())
    const rules = options.rules?.(env)
    const gateway = createGateway(config, { redis }, ...(rules ? [rules] : []))
    const app = await buildGatewayApp(gateway.appDeps)
    infra.defer(() => app.close())
    if (!options.redisUrl) await waitForRedisReady(redis)
    started.push({ app, gateway })
  }
  return started
}

/** One gateway instance (see `gateways`). */
async function gateway(
  t: test.TestContext,
  env: Record<string, string>,
  options: Parameters<typeof gateways>[2] = {},
): Promise<Started> {
  const [started] = await gateways(t, env, { ...options, instances: 1 })
  assert.ok(started)
  return started
}

const minute = { GATEWAY_WINDOW_MS: '60000' }

test('an admitted request reaches the sample upstream with the draft RateLimit headers', async (t) => {
  const gw = await gateway(t, { ...minute, GATEWAY_LIMIT: '5' })
  const res = await gw.app.inject({
    method: 'GET',
    url: '/orders/42?x=1',
    headers: { 'x-api-key': 'alice' },
  })
  assert.equal(res.statusCode, 200)
  assert.deepEqual(res.json(), {
    ok: true,
    path: '/orders/42',
    method: 'GET',
    apiKey: 'alice',
    servedBy: 'gw-0',
  })
  assert.equal(res.headers['ratelimit-policy'], '"gateway";q=5;w=60')
  assert.match(String(res.headers.ratelimit), /^"gateway";r=4;t=\d+$/)
  assert.equal(res.headers['x-ratelimit-limit'], undefined, 'no legacy trio unless asked')

  const legacy = await gateway(t, { ...minute, GATEWAY_LIMIT: '5', GATEWAY_LEGACY_HEADERS: 'true' })
  const withTrio = await legacy.app.inject({ method: 'GET', url: '/', headers: { 'x-api-key': 'bob' } })
  assert.equal(withTrio.headers['x-ratelimit-limit'], '5')
  assert.equal(withTrio.headers['x-ratelimit-remaining'], '4')
  assert.match(String(withTrio.headers['x-ratelimit-reset']), /^\d+$/)
})

test('past the limit: 429, Retry-After and a JSON body naming the rule', async (t) => {
  const gw = await gateway(t, { ...minute, GATEWAY_LIMIT: '3' })
  const call = () =>
    gw.app.inject({ method: 'POST', url: '/pay', headers: { 'x-api-key': 'bob' }, payload: 'x' })
  for (let i = 0; i < 3; i++) assert.equal((await call()).statusCode, 200)
  const denied = await call()
  assert.equal(denied.statusCode, 429)
  const retryAfterS = Number(denied.headers['retry-after'])
  assert.ok(retryAfterS >= 1 && retryAfterS <= 60, `Retry-After ${retryAfterS}`)
  assert.equal(denied.headers['content-type'], 'application/json; charset=utf-8')
  const body = denied.json() as Record<string, unknown>
  assert.equal(body.statusCode, 429)
  assert.equal(body.code, 'RATELIMIT_ERR_LIMITED')
  assert.equal(body.rule, 'gateway')
  assert.equal(body.retryAfterS, retryAfterS)
  assert.match(String(denied.headers.ratelimit), /^"gateway";r=0;t=\d+$/)
})

test('each api key has its own quota', async (t) => {
  const gw = await gateway(t, { ...minute, GATEWAY_LIMIT: '2' })
  const as = (key: string) => gw.app.inject({ url: '/', headers: { 'x-api-key': key } })
  assert.equal((await as('carol')).statusCode, 200)
  assert.equal((await as('carol')).statusCode, 200)
  assert.equal((await as('carol')).statusCode, 429)
  assert.equal((await as('dave')).statusCode, 200, "carol's exhausted quota is not dave's")
  assert.equal((await as('carol')).statusCode, 429)
})

test('without an api key the client IP is the key', async (t) => {
  const gw = await gateway(t, { ...minute, GATEWAY_LIMIT: '1' })
  const from = (ip: string, headers: Record<string, string> = {}) =>
    gw.app.inject({ url: '/anything', remoteAddress: ip, headers })
  assert.equal((await from('10.0.0.1')).statusCode, 200)
  assert.equal((await from('10.0.0.1')).statusCode, 429)
  assert.equal((await from('10.0.0.2')).statusCode, 200, 'another address, another quota')
  assert.equal(
    (await from('10.0.0.1', { 'x-api-key': 'erin' })).statusCode,
    200,
    'a key is counted apart from its IP',
  )
  const body = (await from('10.0.0.3')).json() as Record<string, unknown>
  assert.equal(body.apiKey, undefined)
})

test('instances sharing Redis share the limit', async (t) => {
  const fleet = await gateways(t, { ...minute, GATEWAY_LIMIT: '4' }, { instances: 3 })
  const statuses: number[] = []
  for (let i = 0; i < 9; i++) {
    const res = await (fleet[i % 3] as Started).app.inject({ url: '/', headers: { 'x-api-key': 'shared' } })
    statuses.push(res.statusCode)
  }
  assert.equal(statuses.filter((s) => s === 200).length, 4, statuses.join(','))
})

test('every method and path is passed on; probes, metrics and switches are never limited', async (t) => {
  const gw = await gateway(t, { ...minute, GATEWAY_LIMIT: '1' })
  const put = await gw.app.inject({
    method: 'PUT',
    url: '/a/b/c',
    headers: { 'content-type': 'application/xml' },
    payload: '<x/>',
  })
  assert.equal(put.statusCode, 200)
  assert.deepEqual(put.json(), { ok: true, path: '/a/b/c', method: 'PUT', servedBy: 'gw-0' })
  assert.equal((await gw.app.inject({ method: 'DELETE', url: '/' })).statusCode, 429)
  for (const url of ['/healthz', '/readyz', '/metrics', '/admin/mitigations']) {
    for (let i = 0; i < 3; i++) assert.equal((await gw.app.inject({ url })).statusCode, 200, url)
  }
  const metrics = (await gw.app.inject({ url: '/metrics' })).body
  assert.match(metrics, /ratelimit_decisions_total\{[^}]*outcome="denied"[^}]*\} 1/)
})

test('an api key longer than the limiter accepts is a 400 naming the header', async (t) => {
  const gw = await gateway(t, minute)
  const res = await gw.app.inject({ url: '/', headers: { 'x-api-key': 'k'.repeat(2000) } })
  assert.equal(res.statusCode, 400)
  const body = res.json() as Record<string, unknown>
  assert.equal(body.code, 'RATELIMITER_ERR_INVALID_KEY_HEADER')
  assert.equal(body.field, 'headers.x-api-key')
})

test('with Redis gone the failure policy answers, and the switches choose the client', async (t) => {
  // Port 1 on loopback refuses at once: a real, dead Redis.
  const dead = { redisUrl: 'redis://127.0.0.1:1' }
  const open = await gateway(t, { ...minute, GATEWAY_FAILURE_POLICY: 'open' }, dead)
  const admitted = await open.app.inject({ url: '/', headers: { 'x-api-key': 'frank' } })
  assert.equal(admitted.statusCode, 200)
  assert.equal(admitted.headers.ratelimit, undefined, 'a degraded answer claims no remaining quota')
  assert.equal(admitted.headers['ratelimit-policy'], '"gateway";q=100;w=60')

  const closed = await gateway(t, { ...minute, GATEWAY_FAILURE_POLICY: 'closed' }, dead)
  const refused = await closed.app.inject({ url: '/', headers: { 'x-api-key': 'frank' } })
  assert.equal(refused.statusCode, 429)
  assert.ok(Number(refused.headers['retry-after']) >= 1)
  assert.match(String((refused.json() as { message: string }).message), /fails closed/)

  // `local` answers from an in-process bucket; with localFallback off it is the naive fail-open.
  const local = await gateway(t, { ...minute, GATEWAY_FAILURE_POLICY: 'local', GATEWAY_LIMIT: '2' }, dead)
  const statuses = []
  for (let i = 0; i < 4; i++)
    statuses.push((await local.app.inject({ url: '/', headers: { 'x-api-key': 'g' } })).statusCode)
  assert.deepEqual(statuses, [200, 200, 429, 429])
  const flip = await local.app.inject({
    method: 'PUT',
    url: '/admin/mitigations',
    payload: { localFallback: false },
  })
  assert.equal(flip.statusCode, 200)
  assert.equal((await local.app.inject({ url: '/', headers: { 'x-api-key': 'g' } })).statusCode, 200)
})

test('a rules file: several rules, each its own quota, the most restrictive answer wins', async (t) => {
  const file = join(tmpdir(), `gateway-rules-${process.pid}-${Date.now()}.yaml`)
  writeFileSync(
    file,
    [
      '- name: writes',
      '  key: header:x-api-key',
      '  methods: [POST]',
      '  limit: { algorithm: gcra, limit: 1, windowMs: 60000 }',
      '- name: orders',
      '  key: ip',
      '  pathPrefix: /orders',
      '  limit: { algorithm: sliding-log, limit: 3, windowMs: 60000 }',
      '',
    ].join('\n'),
  )
  const gw = await gateway(t, minute, { rules: () => loadRulesFile(file, 'open') })
  const post = () => gw.app.inject({ method: 'POST', url: '/orders', headers: { 'x-api-key': 'h' } })
  const first = await post()
  assert.equal(first.statusCode, 200)
  assert.equal(first.headers['ratelimit-policy'], '"writes";q=1;w=60, "orders";q=3;w=60')
  const second = await post()
  assert.equal(second.statusCode, 429)
  assert.equal((second.json() as { rule: string }).rule, 'writes')
  assert.equal((await gw.app.inject({ url: '/orders' })).statusCode, 200, 'GET /orders: only the orders rule')
  assert.equal(
    (await gw.app.inject({ url: '/orders' })).statusCode,
    429,
    'orders rule: 3 used (one denied POST included)',
  )
  const other = await gw.app.inject({ url: '/elsewhere' })
  assert.equal(other.statusCode, 200)
  assert.equal(other.headers['ratelimit-policy'], undefined, 'no rule applies outside /orders to a GET')
})

test('with UPSTREAM_URL the request is proxied, status, headers and body relayed', async (t) => {
  const upstream = Fastify()
  upstream.addContentTypeParser('*', { parseAs: 'string' }, (_r, body, done) => done(null, body))
  upstream.all('/*', async (request, reply) => {
    reply.code(201).header('x-upstream', 'yes')
    return { url: request.url, method: request.method, body: request.body, key: request.headers['x-api-key'] }
  })
  await upstream.listen({ host: '127.0.0.1', port: 0 })
  t.after(() => upstream.close())
  const { port } = upstream.server.address() as { port: number }
  const gw = await gateway(t, { ...minute, UPSTREAM_URL: `http://127.0.0.1:${port}` })
  const res = await gw.app.inject({
    method: 'PATCH',
    url: '/items/7?full=1',
    headers: { 'x-api-key': 'ivan', 'content-type': 'text/plain' },
    payload: 'hello',
  })
  assert.equal(res.statusCode, 201)
  assert.equal(res.headers['x-upstream'], 'yes')
  assert.ok(res.headers['ratelimit-policy'])
  assert.deepEqual(res.json(), { url: '/items/7?full=1', method: 'PATCH', body: 'hello', key: 'ivan' })

  const broken = await gateway(t, { ...minute, UPSTREAM_URL: 'http://127.0.0.1:1' })
  const unreachable = await broken.app.inject({ url: '/' })
  assert.equal(unreachable.statusCode, 502)
  assert.equal((unreachable.json() as { code: string }).code, 'RATELIMITER_ERR_UPSTREAM_UNAVAILABLE')
})
