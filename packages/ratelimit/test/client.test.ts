/**
 * The clients' settings, and what they do when nothing listens: the fail-fast client rejects a
 * command at once, the naive one holds it. No shared infra (port 1 has no Redis).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  closeLimiterRedis,
  createLimiterCluster,
  createLimiterRedis,
  reconnectDelayMs,
} from '../src/client.ts'

const nowhere = 'redis://127.0.0.1:1'

test('the fail-fast client has no offline queue, no retries per command, no resends', (t) => {
  const redis = createLimiterRedis({ url: nowhere })
  t.after(() => closeLimiterRedis(redis))
  assert.equal(redis.options.enableOfflineQueue, false)
  assert.equal(redis.options.maxRetriesPerRequest, 0)
  assert.equal(redis.options.autoResendUnfulfilledCommands, false)
  assert.equal(redis.options.connectTimeout, 1_000)
  assert.equal(redis.options.connectionName, 'ratelimit')
})

test('reconnects never stop and never wait more than a second apart', () => {
  for (const times of [1, 2, 5, 10, 100, 10_000]) {
    const delayMs = reconnectDelayMs(times)
    assert.ok(Number.isFinite(delayMs) && delayMs >= 0 && delayMs <= 1_000, `${times}: ${delayMs}`)
  }
})

test('Redis gone: the fail-fast client rejects a command, the naive client keeps it waiting', async (t) => {
  const failFast = createLimiterRedis({ url: nowhere })
  const naive = createLimiterRedis({ url: nowhere, failFast: false })
  t.after(() => Promise.all([closeLimiterRedis(failFast), closeLimiterRedis(naive)]))
  await assert.rejects(failFast.ping(), /enableOfflineQueue|Connection is closed|ECONNREFUSED/)
  // The naive client's command sits in the offline queue through every reconnect: still pending
  // after several reconnect rounds (it would be for ever).
  const pending = naive.ping().then(
    () => 'answered',
    () => 'failed',
  )
  const outcome = await Promise.race([pending, sleep(500).then(() => 'still waiting')])
  assert.equal(outcome, 'still waiting')
  assert.equal(naive.options.enableOfflineQueue, true)
  assert.equal(naive.options.maxRetriesPerRequest, null)
})

test('cluster clients: seed nodes parsed from REDIS_CLUSTER_NODES form, fail-fast options set', async (t) => {
  const cluster = createLimiterCluster({
    nodes: '127.0.0.1:1, 127.0.0.1:2',
    natMap: { '10.0.0.1:6379': { host: '127.0.0.1', port: 1 } },
  })
  t.after(() => closeLimiterRedis(cluster))
  // ioredis keeps the seed nodes private; what matters is that both were parsed and kept.
  const seeds = (cluster as unknown as { startupNodes: Array<{ host: string; port: number }> }).startupNodes
  assert.deepEqual(
    seeds.map((n) => `${n.host}:${n.port}`),
    ['127.0.0.1:1', '127.0.0.1:2'],
  )
  assert.equal(cluster.options.enableOfflineQueue, false)
  assert.equal(cluster.options.redisOptions?.maxRetriesPerRequest, 0)
  assert.equal(cluster.options.slotsRefreshTimeout, 200)
  assert.equal(cluster.options.retryDelayOnFailover, 20)
  assert.deepEqual(cluster.options.natMap, { '10.0.0.1:6379': { host: '127.0.0.1', port: 1 } })
  await assert.rejects(cluster.get('k'), 'no queue: a command on an unreachable cluster fails')
  assert.throws(() => createLimiterCluster({ nodes: 'localhost' }), /host:port/)
})
