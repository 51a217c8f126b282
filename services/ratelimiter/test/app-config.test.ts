import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { ConfigError, defaultRulesFile, loadConfig } from '../src/config.ts'

test('config: defaults run against the native topology with the example rules', () => {
  const config = loadConfig({})
  assert.equal(config.store, 'redis')
  assert.equal(config.decisionDeadlineMs, 20)
  assert.equal(config.localFallbackInstances, 1)
  assert.equal(config.grpcPort, 0)
  assert.equal(config.adminToken, undefined)
  assert.equal(config.rulesFile, defaultRulesFile)
  assert.ok(existsSync(defaultRulesFile), defaultRulesFile)
  assert.ok(config.redisClusterNodes.length > 0, 'the native cluster seeds by default')
  assert.equal(config.mitigations.decisionDeadline, true)
})

test('config: every bad variable is listed at once', () => {
  const err = (() => {
    try {
      loadConfig({
        PORT: 'x',
        RATELIMIT_STORE: 'memcached',
        DECISION_DEADLINE_MS: '0',
        GRPC_PORT: '70000',
        LOCAL_FALLBACK_INSTANCES: '0',
        REDIS_CLUSTER_NODES: 'not a node list',
        MITIGATION_DECISION_DEADLINE: 'maybe',
      })
    } catch (e) {
      return e
    }
    assert.fail('loadConfig should throw')
  })()
  assert.ok(err instanceof ConfigError)
  assert.deepEqual(err.issues.map((issue) => issue.name).sort(), [
    'DECISION_DEADLINE_MS',
    'GRPC_PORT',
    'LOCAL_FALLBACK_INSTANCES',
    'MITIGATION_DECISION_DEADLINE',
    'PORT',
    'RATELIMIT_STORE',
    'REDIS_CLUSTER_NODES',
  ])
})

test('config: cluster store, seeds split; the store must be redis or cluster', () => {
  const config = loadConfig({ RATELIMIT_STORE: 'cluster', REDIS_CLUSTER_NODES: 'a:1, b:2,' })
  assert.equal(config.store, 'cluster')
  assert.deepEqual(config.redisClusterNodes, ['a:1', 'b:2'])
  assert.throws(
    () => loadConfig({ RATELIMIT_STORE: 'memory' }),
    /RATELIMIT_STORE: must be one of redis, cluster/,
  )
})
