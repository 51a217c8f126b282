// loadConfig on an environment given as an object: no infra needed.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError, loadConfig } from '../src/config.ts'

test('PROVIDER_KNOBS: empty means no knobs; a good value becomes the knobs per provider', () => {
  assert.deepEqual(loadConfig({}).providerKnobs, {})
  const c = loadConfig({ PROVIDER_KNOBS: '{"sms-a":{"errorRate":0.2,"latencyMs":50},"push":{}}' })
  assert.deepEqual(c.providerKnobs, { 'sms-a': { errorRate: 0.2, latencyMs: 50 }, push: {} })
})

test('a bad PROVIDER_KNOBS is one issue naming it, listed with every other bad variable', () => {
  const cases: [knobs: string, reason: RegExp][] = [
    ['{"sms-a":', /^is not JSON \(/],
    ['[1]', /^must be a JSON object: provider name → knobs$/],
    ['{"sms-c":{}}', /^names "sms-c", not a provider \(one of email, sms-a, sms-b, push\)$/],
    ['{"push":{"dropReplyRate":2}}', /^push\.dropReplyRate must be a number from 0 to 1$/],
  ]
  for (const [knobs, reason] of cases) {
    assert.throws(
      () => loadConfig({ PROVIDER_KNOBS: knobs, WORKER_CHANNELS: 'email,fax' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.deepEqual(
          err.issues.map((i) => i.name),
          ['WORKER_CHANNELS', 'PROVIDER_KNOBS'],
          err.message,
        )
        assert.match(err.issues[1]?.reason ?? '', reason)
        assert.match(err.message, /PROVIDER_KNOBS: /)
        return true
      },
      knobs,
    )
  }
})

test('PROVIDER_KNOBS is checked against PROVIDER_NAMES', () => {
  const c = loadConfig({ PROVIDER_NAMES: 'email,fax', PROVIDER_KNOBS: '{"fax":{"errorRate":1}}' })
  assert.deepEqual(c.providerNames, ['email', 'fax'])
  assert.deepEqual(c.providerKnobs, { fax: { errorRate: 1 } })
  assert.throws(
    () => loadConfig({ PROVIDER_NAMES: 'email', PROVIDER_KNOBS: '{"push":{}}' }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.message === 'invalid configuration: PROVIDER_KNOBS: names "push", not a provider (one of email)',
  )
})
