/**
 * What the failure-policy, client and plugin tests share: a fail-fast limiter client on the real
 * Redis, reached through the Toxiproxy proxy `redis-cache` so a test can slow it or take it away,
 * a key prefix of its own, and a registry to read the limiter's counters from.
 */
import assert from 'node:assert/strict'
import { proxies } from '@faultline/infra'
import { type TestInfra, testInfra } from '@faultline/testkit'
import { ToxiproxyClient } from '@faultline/toxiproxy'
import type { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { closeLimiterRedis, createLimiterRedis, waitForRedisReady } from '../src/client.ts'
import { RedisLimiter } from '../src/redis-limiter.ts'

export interface ProxiedRedis {
  infra: TestInfra
  redis: Redis
  limiter: RedisLimiter
  registry: Registry
  toxiproxy: ToxiproxyClient
  proxyName: string
}

/** A test's Redis behind Toxiproxy, or why there is none (under testcontainers there is no proxy). */
export async function proxiedRedis(t: {
  after(fn: () => unknown): void
}): Promise<ProxiedRedis | { reason: string }> {
  const infra = await testInfra(t, { need: ['redis', 'toxiproxy'] })
  let url: string
  try {
    url = infra.urls.toxiproxyUrl
  } catch {
    return {
      reason: `no Toxiproxy in front of Redis under ${infra.mode} infra (run it on the native topology)`,
    }
  }
  const toxiproxy = new ToxiproxyClient({ url })
  const proxyName = proxies['redis-cache'].name
  const listenPort = (await toxiproxy.proxy(proxyName)).listen.split(':').at(-1)
  // A Redis reached around the proxy would stay up while the test believes it is down.
  assert.equal(
    new URL(infra.urls.redisUrl).port,
    listenPort,
    `REDIS_URL must go through the proxy "${proxyName}"`,
  )
  // Redis comes back even when a test fails inside the outage: the proxy is shared.
  infra.defer(() => toxiproxy.enableProxy(proxyName))
  const redis = createLimiterRedis({ url: infra.urls.redisUrl })
  infra.defer(() => closeLimiterRedis(redis))
  await waitForRedisReady(redis)
  const limiter = new RedisLimiter({ redis, prefix: infra.keyPrefix().replace(/:$/, '') })
  return { infra, redis, limiter, registry: new Registry(), toxiproxy, proxyName }
}

/** The value of a counter (summed over `labels`' match) in `registry`. */
export async function counterValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (!metric) return 0
  const { values } = await metric.get()
  return values
    .filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))
    .reduce((sum, v) => sum + v.value, 0)
}
