/**
 * The Redis lease against the real Redis: two leases stand for two instances (each has its own
 * token), on a per-test key prefix.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { testInfra } from '@faultline/testkit'
import { Redis } from 'ioredis'
import { createRedisLease } from '../src/redis-lease.ts'

async function setup(t: Parameters<typeof testInfra>[0]) {
  const infra = await testInfra(t, { need: ['redis'] })
  const prefix = infra.keyPrefix()
  const redis = new Redis(infra.urls.redisUrl)
  infra.defer(() => redis.quit())
  const key = (id: string) => `${prefix}lease:${id}`
  return { redis, key }
}

test('one holder at a time: the other instance is refused until the holder releases', async (t) => {
  const { redis, key } = await setup(t)
  const a = createRedisLease(redis, { key, leaseMs: 60_000 })
  const b = createRedisLease(redis, { key, leaseMs: 60_000 })

  assert.equal(await a.held('x'), false)
  assert.equal(await a.acquire('x'), true)
  assert.equal(await b.acquire('x'), false, 'another instance cannot take a held lease')
  assert.equal(await a.acquire('x'), false, 'not reentrant: a second acquire is refused too')
  assert.equal(await b.held('x'), true, 'every instance sees that it is held')
  assert.equal(await b.acquire('y'), true, 'leases of other ids are independent')

  const ttl = await redis.pttl(key('x'))
  assert.ok(ttl > 0 && ttl <= 60_000, `the lease expires by itself (pttl ${ttl})`)

  await b.release('x')
  assert.equal(await a.held('x'), true, "a release by a non-holder leaves the holder's lease")
  await a.release('x')
  assert.equal(await a.held('x'), false)
  assert.equal(await b.acquire('x'), true, 'once released, the next instance takes it')
})

test('a holder whose lease expired cannot release the next holder’s lease', async (t) => {
  const { redis, key } = await setup(t)
  const slow = createRedisLease(redis, { key, leaseMs: 20 })
  const next = createRedisLease(redis, { key, leaseMs: 60_000 })

  assert.equal(await slow.acquire('x'), true)
  // Bounded wait for the expiry (an event, not a timing assertion).
  for (let i = 0; i < 200 && (await next.held('x')); i++) await sleep(10)
  assert.equal(await next.held('x'), false, 'the lease expired without a release')
  assert.equal(await next.acquire('x'), true)

  await slow.release('x')
  assert.equal(await next.held('x'), true, 'the late release did not delete the new lease')
  assert.equal(await slow.acquire('x'), false)
})

test('a client with a key prefix: the lease key and the release script both use the prefix', async (t) => {
  const infra = await testInfra(t, { need: ['redis'] })
  const prefix = infra.keyPrefix()
  const prefixed = new Redis(infra.urls.redisUrl, { keyPrefix: prefix })
  const raw = new Redis(infra.urls.redisUrl)
  infra.defer(() => prefixed.quit())
  infra.defer(() => raw.quit())
  const lease = createRedisLease(prefixed, { key: (id) => `fill:${id}`, leaseMs: 60_000 })

  assert.equal(await lease.acquire('abc'), true)
  assert.equal(await raw.exists(`${prefix}fill:abc`), 1)
  await lease.release('abc')
  assert.equal(await raw.exists(`${prefix}fill:abc`), 0, 'the release script deleted the prefixed key')
})
