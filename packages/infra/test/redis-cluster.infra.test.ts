/**
 * The native Redis Cluster, for real: formed (three masters, three replicas, every slot), usable
 * by an ioredis `Cluster` across slots, idempotent under `infra up`, and failing over: a master
 * killed with SIGKILL is replaced by its replica, writes to its slots work again, and the killed
 * node, restarted, rejoins as a replica. The test leaves the cluster whole for the next one.
 *
 * Run it alone, under the shared lock: `flock /tmp/faultline-infra.lock node --test <this file>`.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster } from 'ioredis'
import {
  type ClusterNodeLine,
  parseClusterNodes,
  redisClusterHealth,
} from '../src/components/redis-cluster.ts'
import { infraStatus } from '../src/runner.ts'
import {
  type RedisClusterNode,
  redisClusterNodes,
  redisClusterStartupNodes,
  serviceEnv,
} from '../src/topology.ts'
import { redisBulkReply } from '../src/wait.ts'
import { cli, ensureUp, upTimeoutMs } from './support.ts'

/** Generous: a failover takes about 3–4 s with the 2 s node timeout; this only bounds a hang. */
const failoverDeadlineMs = 30_000
const prefix = `test:redis-cluster:${randomUUID()}`
const written: string[] = []

let client: Cluster

before(
  async () => {
    await ensureUp('redis-cluster')
    client = new Cluster(redisClusterStartupNodes(serviceEnv().REDIS_CLUSTER_NODES ?? ''), {
      redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 1000 },
    })
    client.on('error', () => {})
  },
  { timeout: upTimeoutMs },
)

after(async () => {
  for (const key of written) await client.del(key).catch(() => {})
  client.disconnect()
})

/** CLUSTER NODES as the first answering node (other than `except`) sees it. */
async function clusterView(except?: RedisClusterNode): Promise<ClusterNodeLine[]> {
  for (const node of redisClusterNodes) {
    if (node === except) continue
    const text = await redisBulkReply(node.port, ['CLUSTER', 'NODES'])
    if (text !== undefined) return parseClusterNodes(text)
  }
  throw new Error('no cluster node answers CLUSTER NODES')
}

async function nodeView(node: RedisClusterNode): Promise<ClusterNodeLine[]> {
  return parseClusterNodes((await redisBulkReply(node.port, ['CLUSTER', 'NODES'])) ?? '')
}

const serves = (line: ClusterNodeLine, slot: number) =>
  line.ranges.some(([from, to]) => slot >= from && slot <= to)
const nodeOnPort = (port: number) => redisClusterNodes.find((n) => n.port === port) as RedisClusterNode

async function keySlot(key: string): Promise<number> {
  return Number(await client.call('CLUSTER', 'KEYSLOT', key))
}

/** Polls `attempt` until it returns a value (not undefined) or the deadline passes. */
async function poll<T>(what: string, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + failoverDeadlineMs
  for (;;) {
    const value = await attempt().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${failoverDeadlineMs} ms`)
    await sleep(200)
  }
}

describe('the native Redis Cluster', () => {
  test('is formed: three masters with a replica each, every slot served', async () => {
    const health = await redisClusterHealth()
    assert.deepEqual(health.problems, [])
    assert.equal(health.healthy, true)
    const view = await clusterView()
    const masters = view.filter((n) => n.flags.includes('master'))
    const replicas = view.filter((n) => n.flags.includes('slave'))
    assert.equal(masters.length, 3)
    assert.equal(replicas.length, 3)
    assert.equal(
      masters.reduce((sum, m) => sum + m.slots, 0),
      16384,
    )
    for (const master of masters)
      assert.ok(
        replicas.some((r) => r.masterId === master.id),
        `${master.port}`,
      )
    assert.deepEqual(view.map((n) => n.port).sort(), redisClusterNodes.map((n) => n.port).sort())
  })

  test('an ioredis Cluster client writes and reads keys on every master', async () => {
    const view = await clusterView()
    const ownersSeen = new Set<number>()
    for (let i = 0; i < 60; i++) {
      const key = `${prefix}:spread:${i}`
      written.push(key)
      assert.equal(await client.set(key, `value-${i}`), 'OK')
      const slot = await keySlot(key)
      const owner = view.find((n) => n.flags.includes('master') && serves(n, slot))
      assert.ok(owner, `slot ${slot} has a master`)
      ownersSeen.add(owner.port)
    }
    for (let i = 0; i < 60; i++) assert.equal(await client.get(`${prefix}:spread:${i}`), `value-${i}`)
    assert.equal(ownersSeen.size, 3, 'sixty random keys land on all three masters')
  })

  test('`infra up` on the formed cluster changes nothing: same processes, same node ids', async () => {
    const pidsBefore = (await infraStatus(['redis-cluster'])).map((s) => s.pid)
    const idsBefore = (await clusterView()).map((n) => n.id).sort()
    const pids = async () =>
      (await infraStatus(redisClusterNodes.map((n) => n.name))).map((s) => s.pid).join(',')
    const nodePidsBefore = await pids()
    const result = await cli('up', 'redis-cluster')
    assert.equal(result.code, 0, result.stderr)
    assert.doesNotMatch(result.stderr, /forming the cluster/)
    assert.match(result.stderr, /redis-cluster: healthy, 3 masters/)
    assert.equal(await pids(), nodePidsBefore)
    assert.deepEqual(
      (await infraStatus(['redis-cluster'])).map((s) => s.pid),
      pidsBefore,
    )
    assert.deepEqual((await clusterView()).map((n) => n.id).sort(), idsBefore)
  })

  test('a killed master is replaced by its replica, writes resume, and it rejoins as a replica', async (t) => {
    const key = `${prefix}:failover`
    written.push(key)
    const slot = await keySlot(key)
    const before = await clusterView()
    const oldMaster = before.find((n) => n.flags.includes('master') && serves(n, slot)) as ClusterNodeLine
    const replicaLine = before.find((n) => n.masterId === oldMaster.id) as ClusterNodeLine
    const victim = nodeOnPort(oldMaster.port)
    const heir = nodeOnPort(replicaLine.port)
    assert.equal(await client.set(key, 'before'), 'OK')

    const [status] = await infraStatus([victim.name])
    assert.ok(status?.pid, `${victim.name} runs`)
    const killedAt = Date.now()
    process.kill(status.pid, 'SIGKILL')
    try {
      // The replica promotes itself: it says it is a master serving the slot.
      await poll(`${heir.name} promoted`, async () => {
        const self = (await nodeView(heir)).find((n) => n.flags.includes('myself'))
        return self?.flags.includes('master') && serves(self, slot) ? true : undefined
      })
      t.diagnostic(`${heir.name} promoted ${Date.now() - killedAt} ms after the kill`)
      await poll(`a write to slot ${slot}`, async () =>
        (await client.set(key, 'after')) === 'OK' ? true : undefined,
      )
      assert.equal(await client.get(key), 'after')
      t.diagnostic(`writes to slot ${slot} resumed ${Date.now() - killedAt} ms after the kill`)
    } finally {
      // Whatever happened, bring the node back and wait until the cluster is whole again.
      await ensureUp(victim.name)
      await ensureUp('redis-cluster')
    }

    const self = (await nodeView(victim)).find((n) => n.flags.includes('myself'))
    assert.deepEqual(self?.flags, ['myself', 'slave'])
    assert.equal(self?.id, oldMaster.id, 'the same node (its nodes.conf), not a new one')
    assert.equal(self?.masterId, replicaLine.id, 'a replica of the node that replaced it')
    assert.equal(await client.get(key), 'after')
    const health = await redisClusterHealth()
    assert.deepEqual(health.problems, [])
  })
})
