/**
 * Every proxy of the port table exists, and a toxic on one really reaches the client: a 300 ms
 * latency toxic on `redis-cache` makes a PING through the proxy take at least 300 ms.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { before, test } from 'node:test'
import { Redis } from 'ioredis'
import { proxies, serviceEnv } from '../src/topology.ts'
import { ensureUp, toxiproxyApi, upTimeoutMs } from './support.ts'

const latencyMs = 300

before(() => ensureUp('toxiproxy', 'redis-cache'), { timeout: upTimeoutMs })

test('every proxy of the port table exists with its listen and upstream address', async () => {
  const response = await toxiproxyApi('GET', '/proxies')
  assert.equal(response.status, 200)
  const existing = (await response.json()) as Record<string, { listen: string; upstream: string }>
  for (const proxy of Object.values(proxies)) {
    assert.deepEqual(
      { listen: existing[proxy.name]?.listen, upstream: existing[proxy.name]?.upstream },
      { listen: `127.0.0.1:${proxy.listenPort}`, upstream: `127.0.0.1:${proxy.upstreamPort}` },
      proxy.name,
    )
  }
})

test(`a ${latencyMs} ms latency toxic on redis-cache slows a PING; removing it restores the proxy`, async (t) => {
  const redis = new Redis(serviceEnv().REDIS_URL ?? '', { lazyConnect: true, maxRetriesPerRequest: 1 })
  await redis.connect()
  const toxic = `latency-test-${randomUUID().slice(0, 8)}`
  t.after(async () => {
    // Always remove it, whatever failed: other tests share this proxy. 404 = already gone.
    await toxiproxyApi('DELETE', `/proxies/redis-cache/toxics/${toxic}`)
    redis.disconnect()
  })
  assert.equal(await redis.ping(), 'PONG')

  const created = await toxiproxyApi('POST', '/proxies/redis-cache/toxics', {
    name: toxic,
    type: 'latency',
    stream: 'downstream',
    toxicity: 1,
    attributes: { latency: latencyMs, jitter: 0 },
  })
  assert.equal(created.status, 200, await created.text())

  const started = performance.now()
  assert.equal(await redis.ping(), 'PONG')
  const elapsedMs = performance.now() - started
  assert.ok(
    elapsedMs >= latencyMs,
    `PING through the toxic took ${elapsedMs.toFixed(1)} ms, expected ≥ ${latencyMs}`,
  )

  const removed = await toxiproxyApi('DELETE', `/proxies/redis-cache/toxics/${toxic}`)
  assert.equal(removed.status, 204)
  const toxics = (await (await toxiproxyApi('GET', '/proxies/redis-cache/toxics')).json()) as {
    name: string
  }[]
  assert.ok(!toxics.some((entry) => entry.name === toxic), 'toxic still listed after DELETE')
  assert.equal(await redis.ping(), 'PONG')
})
