/**
 * The parsers the cluster's health and formation read, on replies copied from Redis 7.0 (no
 * infrastructure needed): CLUSTER NODES with and without an announced host name, a slot being
 * migrated, a failed master; CLUSTER INFO with the protocol's CRLF line ends.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseClusterInfo, parseClusterNodes } from '../src/components/redis-cluster.ts'
import { redisClusterNodes, redisClusterStartupNodes, serviceEnv } from '../src/topology.ts'

const afterFailover = [
  '3856fcf5 127.0.0.1:17003@27003 master - 0 1796496822078 3 connected 10923-16383',
  '9136861a 127.0.0.1:17001@27001 master,fail - 1796496821000 1796496820000 1 disconnected',
  '4f527525 127.0.0.1:17005@27005 myself,master - 0 1796496821474 7 connected 0-5460',
  '5a7eb66a 127.0.0.1:17002@27002 master - 0 1796496822078 2 connected 5461-10921 10922 [10922->-3856fcf5]',
  '4312449b 127.0.0.1:17006@27006 slave 5a7eb66a 0 1796496822000 2 connected',
  '3bf05577 127.0.0.1:17004@27004 slave 3856fcf5 0 1796496822078 3 connected',
  '',
].join('\n')

test('CLUSTER NODES: roles, masters, links and served slot ranges (a migrating slot is not one)', () => {
  const nodes = parseClusterNodes(afterFailover)
  assert.equal(nodes.length, 6)
  const byPort = new Map(nodes.map((n) => [n.port, n]))
  assert.deepEqual(byPort.get(17001)?.flags, ['master', 'fail'])
  assert.equal(byPort.get(17001)?.connected, false)
  assert.equal(byPort.get(17001)?.slots, 0)
  assert.deepEqual(byPort.get(17005)?.ranges, [[0, 5460]])
  assert.deepEqual(byPort.get(17002)?.ranges, [
    [5461, 10921],
    [10922, 10922],
  ])
  assert.equal(byPort.get(17002)?.slots, 5462)
  assert.equal(byPort.get(17006)?.masterId, '5a7eb66a')
  assert.equal(byPort.get(17003)?.masterId, undefined)
  assert.equal(
    nodes.reduce((sum, n) => sum + n.slots, 0),
    16384,
  )
})

test('CLUSTER NODES with an announced host name (compose) keeps the port', () => {
  const [node] = parseClusterNodes(
    'abc 172.18.0.5:17004@27004,redis-cluster-4 myself,master - 0 0 4 connected 0-5460\n',
  )
  assert.equal(node?.port, 17004)
  assert.deepEqual(node?.flags, ['myself', 'master'])
})

test('CLUSTER INFO with CRLF line ends', () => {
  const info = parseClusterInfo(
    'cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_known_nodes:6\r\n',
  )
  assert.equal(info.cluster_state, 'ok')
  assert.equal(info.cluster_slots_assigned, '16384')
  assert.equal(info.cluster_known_nodes, '6')
})

test('REDIS_CLUSTER_NODES lists every node, and reads back as startup nodes', () => {
  const seeds = serviceEnv().REDIS_CLUSTER_NODES ?? ''
  assert.deepEqual(
    redisClusterStartupNodes(seeds),
    redisClusterNodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
  )
  assert.deepEqual(redisClusterStartupNodes(' a:1, b:2 ,'), [
    { host: 'a', port: 1 },
    { host: 'b', port: 2 },
  ])
})
