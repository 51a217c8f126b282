/**
 * The same decisions with RATELIMIT_STORE=cluster, against the native Redis Cluster
 * (`./faultline infra up` forms it; REDIS_CLUSTER_NODES overrides the seeds).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Cluster } from 'ioredis'
import { RatelimiterFixture } from '../src/fixture.ts'
import { harness } from './app-harness.ts'

const rules = `version: 1
domains:
  - domain: api
    descriptors:
      - key: api_key
        rate_limit: { requests_per_unit: 3, unit: minute }
      - key: gcra
        rate_limit: { requests_per_unit: 2, unit: hour, algorithm: gcra }
`

test('RATELIMIT_STORE=cluster: keys spread over the masters, each counts exactly; the fixture resets them all', async (t) => {
  const h = await harness(t, {
    rules,
    env: {
      RATELIMIT_STORE: 'cluster',
      ...(process.env.REDIS_CLUSTER_NODES ? { REDIS_CLUSTER_NODES: process.env.REDIS_CLUSTER_NODES } : {}),
    },
  })
  assert.equal(h.config.store, 'cluster')
  const cluster = h.redis as Cluster
  const values = Array.from({ length: 12 }, (_, i) => `k${i}`)
  for (const value of values) {
    const codes = []
    for (let i = 0; i < 4; i++) {
      codes.push((await h.decide({ domain: 'api', descriptors: [{ key: 'api_key', value }] })).body.overall)
    }
    assert.deepEqual(codes, ['OK', 'OK', 'OK', 'OVER_LIMIT'], value)
  }
  const gcra = []
  for (let i = 0; i < 3; i++) {
    gcra.push((await h.decide({ domain: 'api', descriptors: [{ key: 'gcra', value: 'g' }] })).body.overall)
  }
  assert.deepEqual(gcra, ['OK', 'OK', 'OVER_LIMIT'])

  const fixture = new RatelimiterFixture({ keyPrefix: h.config.redisKeyPrefix })
  const countOn = async (node: ReturnType<Cluster['nodes']>[number]) => {
    let cursor = '0'
    let count = 0
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', fixture.pattern(), 'COUNT', 1000)
      cursor = next
      count += keys.length
    } while (cursor !== '0')
    return count
  }
  const perMaster = await Promise.all(cluster.nodes('master').map(countOn))
  assert.ok(perMaster.filter((n) => n > 0).length >= 2, `keys on more than one master: ${perMaster}`)
  assert.equal((await fixture.reset({ redis: cluster })).keys, values.length + 1)
  assert.equal(
    (await h.decide({ domain: 'api', descriptors: [{ key: 'api_key', value: 'k0' }] })).body.overall,
    'OK',
  )
})
