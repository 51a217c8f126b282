/**
 * The same algorithm checks and the same 4-instance correctness test as against the single Redis
 * (algorithm-checks.ts, correctness-tests.ts), through an ioredis `Cluster` on the native Redis
 * Cluster (3 masters + 3 replicas; seeds in REDIS_CLUSTER_NODES, else the topology's). Nothing
 * changes in the library: every script's keys share one hash tag, so each runs on one node.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { type TestContext, test } from 'node:test'
import { redisClusterNatMap, redisClusterStartupNodes, serviceEnv } from '@faultline/infra'
import type { AfterHost } from '@faultline/testkit'
import { Cluster, type Redis } from 'ioredis'
import { RedisLimiter } from '../src/redis-limiter.ts'
import { algorithmChecks } from './algorithm-checks.ts'
import { registerCorrectnessTests } from './correctness-tests.ts'

const seeds = redisClusterStartupNodes(
  process.env.REDIS_CLUSTER_NODES ?? serviceEnv().REDIS_CLUSTER_NODES ?? '',
)
const natMap = redisClusterNatMap()

/** A connected cluster client and a fresh key prefix, both cleaned up after `host`'s test. */
async function clusterSetup(host: AfterHost): Promise<{ cluster: Cluster; prefix: string }> {
  const cluster = new Cluster(seeds, {
    natMap,
    redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 2000 },
  })
  cluster.on('error', () => {})
  await cluster.ping().catch((err: unknown) => {
    cluster.disconnect()
    throw new Error(
      `Redis Cluster at ${JSON.stringify(seeds)} does not answer (./faultline infra up): ${err}`,
    )
  })
  const prefix = `t:${randomBytes(6).toString('hex')}:ratelimit`
  host.after(async () => {
    await deleteClusterKeys(cluster, prefix)
    cluster.disconnect()
  })
  return { cluster, prefix }
}

/**
 * SCAN each master and UNLINK its keys one by one: one UNLINK with keys of several slots is a
 * CROSSSLOT error on a cluster, even when one node holds them all.
 */
async function deleteClusterKeys(cluster: Cluster, prefix: string): Promise<void> {
  for (const node of cluster.nodes('master')) {
    let cursor = '0'
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000)
      cursor = next
      for (const key of keys) await node.unlink(key)
    } while (cursor !== '0')
  }
}

async function checkContext(t: TestContext) {
  const { cluster, prefix } = await clusterSetup(t)
  return {
    limiter: new RedisLimiter({ redis: cluster, prefix }),
    redis: cluster,
    scriptNodes: () => cluster.nodes('master') as Redis[],
  }
}

test('cluster: the limiter keys of many users spread over every master, each script on one slot', async (t) => {
  const { limiter, redis: cluster } = await checkContext(t)
  const rule = { algorithm: 'sliding-window' as const, limit: 10, windowMs: 60_000 }
  const masters = new Set<string>()
  for (let user = 0; user < 30; user++) {
    assert.equal((await limiter.decide(`user-${user}`, rule)).remaining, 9)
    const [key] = limiter.keys.scriptKeys(rule.algorithm, `user-${user}`)
    const slot = (await cluster.cluster('KEYSLOT', key as string)) as number
    const owner = cluster.slots[slot]?.[0]
    if (owner) masters.add(owner)
  }
  assert.equal(masters.size, cluster.nodes('master').length, `users on ${[...masters].join(', ')}`)
})

for (const check of algorithmChecks) {
  test(`cluster: ${check.name}`, async (t) => check.run(await checkContext(t)))
}

registerCorrectnessTests('cluster', async (host) => {
  const { cluster, prefix } = await clusterSetup(host)
  return {
    target: { kind: 'cluster', nodes: seeds, natMap },
    prefix,
    async redisTimeUs() {
      const [seconds, micros] = await (cluster.nodes('master')[0] as Redis).time()
      return Number(seconds) * 1e6 + Number(micros)
    },
  }
})
