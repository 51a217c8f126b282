/**
 * The gateway's environment: the defaults are the documented rule, and a bad deployment fails at
 * boot with every wrong variable named in one error; so does a bad GATEWAY_RULES_FILE.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ConfigError, loadGatewayConfig } from '../src/gateway-config.ts'
import { loadRulesFile } from '../src/gateway-rules.ts'

test('with no environment: 100 requests per 1000 ms, sliding log, fail-open, the sample upstream', () => {
  const config = loadGatewayConfig({})
  assert.deepEqual(config.rule, { algorithm: 'sliding-log', limit: 100, windowMs: 1000 })
  assert.equal(config.failurePolicy, 'open')
  assert.equal(config.upstreamUrl, undefined)
  assert.equal(config.rulesFile, undefined)
  assert.equal(config.store, 'redis')
  assert.equal(config.mitigations.decisionDeadline, true)
})

test('every rule variable is read', () => {
  const config = loadGatewayConfig({
    GATEWAY_LIMIT: '5',
    GATEWAY_WINDOW_MS: '250',
    GATEWAY_ALGORITHM: 'gcra',
    GATEWAY_FAILURE_POLICY: 'local',
    LOCAL_FALLBACK_INSTANCES: '4',
    UPSTREAM_URL: 'http://127.0.0.1:9999/base/',
  })
  assert.deepEqual(config.rule, { algorithm: 'gcra', limit: 5, windowMs: 250 })
  assert.equal(config.failurePolicy, 'local')
  assert.equal(config.instances, 4)
  assert.equal(config.upstreamUrl, 'http://127.0.0.1:9999/base')
})

test('bad variables are all listed at once', () => {
  assert.throws(
    () =>
      loadGatewayConfig({
        GATEWAY_LIMIT: '0',
        GATEWAY_WINDOW_MS: 'soon',
        GATEWAY_ALGORITHM: 'leaky-bucket',
        GATEWAY_FAILURE_POLICY: 'maybe',
        UPSTREAM_URL: 'ftp://example',
        MITIGATION_CIRCUIT_BREAKER: 'perhaps',
      }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError)
      const names = err.issues.map((issue) => issue.name)
      for (const name of [
        'GATEWAY_LIMIT',
        'GATEWAY_WINDOW_MS',
        'GATEWAY_ALGORITHM',
        'GATEWAY_FAILURE_POLICY',
        'UPSTREAM_URL',
        'MITIGATION_CIRCUIT_BREAKER',
      ]) {
        assert.ok(names.includes(name), `${name} in ${err.message}`)
      }
      assert.match(
        err.message,
        /GATEWAY_ALGORITHM: must be one of fixed-window, sliding-log, sliding-window, token-bucket, gcra/,
      )
      return true
    },
  )
})

test('a cluster store without seed nodes is refused', () => {
  assert.throws(() => loadGatewayConfig({ RATELIMIT_STORE: 'cluster' }), /REDIS_CLUSTER_NODES: is required/)
  const config = loadGatewayConfig({
    RATELIMIT_STORE: 'cluster',
    REDIS_CLUSTER_NODES: '127.0.0.1:17001, 127.0.0.1:17002',
  })
  assert.deepEqual(config.redisClusterNodes, ['127.0.0.1:17001', '127.0.0.1:17002'])
})

test('the gateway process refuses to boot on bad env, naming every bad variable', async () => {
  const entry = fileURLToPath(new URL('../src/gateway.ts', import.meta.url))
  const result = spawnSync(process.execPath, [entry], {
    env: {
      PATH: process.env.PATH ?? '',
      GATEWAY_LIMIT: '-1',
      GATEWAY_ALGORITHM: 'leaky',
      GATEWAY_FAILURE_POLICY: 'x',
    },
    encoding: 'utf8',
    timeout: 30_000,
  })
  assert.equal(result.status, 1, result.stderr)
  for (const name of ['GATEWAY_LIMIT', 'GATEWAY_ALGORITHM', 'GATEWAY_FAILURE_POLICY']) {
    assert.match(result.stderr, new RegExp(`${name}: `))
  }
})

test('a sliding log longer than the limiter stores is refused at boot, by its variable', () => {
  assert.throws(
    () => loadGatewayConfig({ GATEWAY_ALGORITHM: 'sliding-log', GATEWAY_LIMIT: '100000000' }),
    /GATEWAY_LIMIT: must be ≤ \d+ for sliding-log/,
  )
  assert.equal(
    loadGatewayConfig({ GATEWAY_ALGORITHM: 'gcra', GATEWAY_LIMIT: '100000000' }).rule.limit,
    100_000_000,
  )
})

test('a rules file is checked whole: every problem, each with its path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-rules-'))
  const file = join(dir, 'rules.yaml')
  writeFileSync(
    file,
    [
      '- name: ok',
      '  key: ip',
      '  limit: { algorithm: gcra, limit: 10, windowMs: 1000 }',
      '- name: bad',
      '  key: cookie',
      '  limit: { algorithm: gcra, limit: 10, windowMs: 1000 }',
      '  failurePolicy: sometimes',
      '  pathPrefix: orders',
      '  colour: red',
      '',
    ].join('\n'),
  )
  assert.throws(
    () => loadRulesFile(file, 'open'),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError)
      assert.equal(err.issues[0]?.name, 'GATEWAY_RULES_FILE')
      assert.match(err.message, /rules\[1\]\.colour is not a rule field/)
      assert.match(err.message, /rules\[1\]\.failurePolicy must be one of open, closed, local/)
      assert.match(err.message, /rules\[1\]\.pathPrefix must be a path starting with \//)
      return true
    },
  )
  writeFileSync(
    file,
    '[{"name": "x", "key": "header:", "limit": {"algorithm": "gcra", "limit": 0, "windowMs": 1000}}]',
  )
  assert.throws(
    () => loadRulesFile(file, 'open'),
    /rules\[0\]\.key must be .*rules\[0\]\.limit\.limit must be an integer ≥ 1/,
  )
  writeFileSync(file, 'key: [unclosed')
  assert.throws(() => loadRulesFile(file, 'open'), /GATEWAY_RULES_FILE: .* is not valid YAML or JSON/)
  assert.throws(() => loadRulesFile(join(dir, 'missing.yaml'), 'open'), /GATEWAY_RULES_FILE: cannot read/)
  writeFileSync(
    file,
    '- name: a\n  key: header:x-api-key\n  limit: { algorithm: sliding-log, limit: 5, windowMs: 1000 }\n',
  )
  const [rule] = loadRulesFile(file, 'closed')
  assert.equal(rule?.failurePolicy, 'closed')
  assert.deepEqual(rule?.options.limit, { algorithm: 'sliding-log', limit: 5, windowMs: 1000 })
})
