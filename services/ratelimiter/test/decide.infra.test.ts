import assert from 'node:assert/strict'
import { test } from 'node:test'
import { harness } from './app-harness.ts'

const rules = `version: 1
domains:
  - domain: api
    descriptors:
      - key: api_key
        rate_limit: { requests_per_unit: 5, unit: minute, name: per-key }
        descriptors:
          - key: path
            rate_limit: { requests_per_unit: 2, unit: minute }
      - key: api_key
        value: vip
        rate_limit: { requests_per_unit: 50, unit: minute }
      - key: cost
        rate_limit: { requests_per_unit: 10, unit: minute }
      - key: algo
        value: fixed-window
        rate_limit: { requests_per_unit: 3, unit: minute, algorithm: fixed-window }
      - key: algo
        value: sliding-window
        rate_limit: { requests_per_unit: 3, unit: minute, algorithm: sliding-window }
      - key: algo
        value: token-bucket
        rate_limit: { requests_per_unit: 3, unit: hour, algorithm: token-bucket }
      - key: algo
        value: gcra
        rate_limit: { requests_per_unit: 3, unit: hour, algorithm: gcra }
`

const one = (key: string, value: string) => ({ key, value })

test('decide: OK up to the limit, then OVER_LIMIT; each wildcard value counts on its own', async (t) => {
  const h = await harness(t, { rules })
  const remaining: number[] = []
  for (let i = 0; i < 5; i++) {
    const { status, body } = await h.decide({ domain: 'api', descriptors: [one('api_key', 'k1')] })
    assert.equal(status, 200)
    assert.equal(body.overall, 'OK')
    remaining.push(body.statuses[0].remaining)
  }
  assert.deepEqual(remaining, [4, 3, 2, 1, 0])
  const over = await h.decide({ domain: 'api', descriptors: [one('api_key', 'k1')] })
  assert.equal(over.body.overall, 'OVER_LIMIT')
  const [status] = over.body.statuses
  assert.equal(status.code, 'OVER_LIMIT')
  assert.equal(status.remaining, 0)
  assert.ok(status.resetS >= 1 && status.resetS <= 60, `resetS ${status.resetS}`)
  assert.deepEqual(status.limit, {
    requestsPerUnit: 5,
    unit: 'MINUTE',
    windowMs: 60_000,
    algorithm: 'sliding-log',
    name: 'per-key',
  })
  assert.equal(over.body.rulesVersion, 1)
  // Another value of the same wildcard key, and the value-specific rule, have their own quota.
  assert.equal((await h.decide({ domain: 'api', descriptors: [one('api_key', 'k2')] })).body.overall, 'OK')
  const vip = await h.decide({ domain: 'api', descriptors: [one('api_key', 'vip')] })
  assert.equal(vip.body.statuses[0].limit.requestsPerUnit, 50)
  assert.equal(await h.metric('ratelimiter_decisions_total', { domain: 'api', code: 'OVER_LIMIT' }), 1)
  assert.equal(await h.metric('ratelimiter_decisions_total', { domain: 'api', code: 'OK' }), 7)
  assert.equal(await h.metric('ratelimiter_rules_version'), 1)
})

test('decide: hitsAddend takes that many units; a cost above what is left is refused whole', async (t) => {
  const h = await harness(t, { rules })
  const take = async (hitsAddend: number) =>
    (await h.decide({ domain: 'api', descriptors: [one('cost', 'c')], hitsAddend })).body.statuses[0]
  assert.deepEqual([(await take(4)).remaining, (await take(4)).remaining], [6, 2])
  const refused = await take(4)
  assert.equal(refused.code, 'OVER_LIMIT')
  assert.equal(refused.remaining, 2, 'a refused cost takes nothing')
  const last = await take(2)
  assert.deepEqual([last.code, last.remaining], ['OK', 0])
})

test('decide: one status per descriptor in order, overall OVER_LIMIT if any is; multi-entry descriptors walk nested rules', async (t) => {
  const h = await harness(t, { rules })
  const nested = { entries: [one('api_key', 'k9'), one('path', '/orders')] }
  const body = { domain: 'api', descriptors: [one('api_key', 'k9'), nested, one('unlimited', 'x')] }
  const first = await h.decide(body)
  assert.equal(first.body.overall, 'OK')
  assert.deepEqual(
    first.body.statuses.map((s: { limit?: { requestsPerUnit: number }; remaining: number }) => [
      s.limit?.requestsPerUnit,
      s.remaining,
    ]),
    [
      [5, 4],
      [2, 1],
      [undefined, 0],
    ],
  )
  assert.equal((await h.decide(body)).body.overall, 'OK')
  // The nested rule (2 per minute) is spent; the per-key one (5) is not.
  const third = await h.decide(body)
  assert.equal(third.body.overall, 'OVER_LIMIT')
  assert.deepEqual(
    third.body.statuses.map((s: { code: string }) => s.code),
    ['OK', 'OVER_LIMIT', 'OK'],
  )
})

test('decide: an unknown domain or descriptor is OK without a limit (as in Envoy)', async (t) => {
  const h = await harness(t, { rules })
  const { status, body } = await h.decide({
    domain: 'nowhere',
    descriptors: [one('api_key', 'k1'), one('a', 'b')],
  })
  assert.equal(status, 200)
  assert.deepEqual(body, {
    overall: 'OK',
    statuses: [
      { code: 'OK', remaining: 0, resetS: 0 },
      { code: 'OK', remaining: 0, resetS: 0 },
    ],
    rulesVersion: 1,
  })
  assert.equal(await h.metric('ratelimiter_decisions_total', { domain: '(unknown)' }), 2)
})

test('decide: every algorithm counts through the service and refuses the 4th of 3', async (t) => {
  const h = await harness(t, { rules })
  for (const algorithm of ['fixed-window', 'sliding-window', 'token-bucket', 'gcra']) {
    const codes: string[] = []
    for (let i = 0; i < 4; i++) {
      const { body } = await h.decide({ domain: 'api', descriptors: [one('algo', algorithm)] })
      assert.equal(body.statuses[0].limit.algorithm, algorithm)
      codes.push(body.overall)
    }
    assert.deepEqual(codes, ['OK', 'OK', 'OK', 'OVER_LIMIT'], algorithm)
  }
})

test('decide: the fixture resets every counter of the prefix', async (t) => {
  const h = await harness(t, { rules })
  for (let i = 0; i < 6; i++) await h.decide({ domain: 'api', descriptors: [one('api_key', 'reset-me')] })
  assert.equal(
    (await h.decide({ domain: 'api', descriptors: [one('api_key', 'reset-me')] })).body.overall,
    'OVER_LIMIT',
  )
  const { RatelimiterFixture } = await import('../src/fixture.ts')
  const fixture = new RatelimiterFixture({ keyPrefix: h.config.redisKeyPrefix })
  const { createLimiterRedis, closeLimiterRedis, waitForRedisReady } = await import('@faultline/ratelimit')
  const admin = createLimiterRedis({ url: h.config.redisUrl })
  t.after(() => closeLimiterRedis(admin))
  await waitForRedisReady(admin)
  const { keys } = await fixture.reset({ redis: admin })
  assert.ok(keys >= 1)
  assert.equal(
    (await h.decide({ domain: 'api', descriptors: [one('api_key', 'reset-me')] })).body.overall,
    'OK',
  )
})
