/**
 * The compose Redis Cluster against topology.ts: the same six nodes on the same host ports as
 * `./faultline infra up`, a formation service that waits for all of them, and services that get
 * the nodes by their compose names. The real files pass; a copy with one drift fails.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { redisClusterNodes, serviceEnv } from '@faultline/infra'
import { environmentOf, loadProject } from '../src/index.ts'
import { assertProblem, baseFile, editFile, editService, problemsFor, rootFile } from './broken-copy.ts'

function services(): Record<string, Record<string, unknown>> {
  return (loadProject().compose as { services: Record<string, Record<string, unknown>> }).services
}

describe('the Redis Cluster under compose', () => {
  test('six nodes on the ports of topology.ts, each announcing its own name and port', () => {
    assert.equal(redisClusterNodes.length, 6)
    for (const node of redisClusterNodes) {
      const service = services()[node.name] ?? {}
      assert.deepEqual(service.ports, [`127.0.0.1:${node.port}:${node.port}`], node.name)
      assert.deepEqual(environmentOf(service), { NODE_NAME: node.name, NODE_PORT: String(node.port) })
      const command = (service.command as string[]).join(' ')
      assert.match(command, /--cluster-enabled yes/)
      assert.match(command, /--cluster-announce-hostname "\$\$NODE_NAME"/)
      assert.match(command, /--cluster-preferred-endpoint-type hostname/)
      assert.match(command, /--cluster-node-timeout 2000 /)
    }
  })

  test('the formation service waits for every node and is healthy only when the cluster is whole', () => {
    const formation = services()['redis-cluster'] ?? {}
    assert.deepEqual(
      Object.keys(formation.depends_on as Record<string, unknown>).sort(),
      redisClusterNodes.map((n) => n.name).sort(),
    )
    assert.deepEqual((formation.healthcheck as { test: string[] }).test, [
      'CMD',
      'sh',
      '/faultline/form.sh',
      'check',
    ])
  })

  test('services get the nodes by compose name (natively: 127.0.0.1 and the same ports)', () => {
    const env = environmentOf(services()['shortener-api'] ?? {})
    const names = redisClusterNodes.map((n) => `${n.name}:${n.port}`).join(',')
    assert.equal(env.REDIS_CLUSTER_NODES, names)
    assert.equal(serviceEnv().REDIS_CLUSTER_NODES, names.replaceAll(/redis-cluster-\d/g, '127.0.0.1'))
  })

  test('a node published on another host port than the table', () => {
    const broken = editService('redis-cluster-4', '127.0.0.1:17004:17004', '127.0.0.1:17014:17004')
    assertProblem(
      problemsFor(broken),
      /^redis-cluster-4: publishes \[17014:17004\], topology\.ts says \[17004:17004\]/,
    )
  })

  test('a node missing from compose', () => {
    const broken = editFile(rootFile, '\n  redis-cluster-6:\n', '\n  redis-cluster-7:\n')
    const problems = problemsFor(broken)
    assertProblem(problems, /^redis-cluster-6: missing, topology\.ts has ports for it/)
    assertProblem(problems, /^redis-cluster: depends_on redis-cluster-6, which is not a service/)
  })

  test('services sent to the nodes through Toxiproxy, which the cluster has no proxy for', () => {
    const broken = editFile(
      baseFile,
      'REDIS_CLUSTER_NODES: redis-cluster-1:17001',
      'REDIS_CLUSTER_NODES: toxiproxy:17001',
    )
    assertProblem(
      problemsFor(broken),
      /^shortener-api: environment REDIS_CLUSTER_NODES must be redis-cluster-1:17001,/,
    )
  })
})
