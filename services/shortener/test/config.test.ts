import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError, loadConfig } from '../src/config.ts'

test('with no environment, the defaults point at the native infra and every switch is on', () => {
  const c = loadConfig({})
  assert.equal(c.port, 3000)
  assert.equal(c.redirectStatus, 302)
  assert.equal(c.dbSchema, 'shortener')
  assert.match(c.databaseUrl, /^postgres:\/\/.*:25432\//)
  assert.match(c.redisUrl, /:26379$/)
  assert.deepEqual(c.kafkaBrokers, ['127.0.0.1:29092'])
  assert.equal(c.clickSpoolMax, 100_000)
  assert.equal(c.cacheTtlMs, 3_600_000)
  assert.equal(c.publicBaseUrl, 'http://127.0.0.1:3000')
  assert.ok(Object.values(c.mitigations).every(Boolean))
})

test('strings are converted and derived values computed', () => {
  const c = loadConfig({
    PORT: '8080',
    REDIRECT_STATUS: '301',
    KAFKA_BROKERS: 'a:1, b:2',
    CACHE_TTL_S: '10',
    PUBLIC_BASE_URL: 'https://sho.rt/',
    MITIGATION_SINGLE_FLIGHT: 'false',
    ADMIN_TOKEN: '',
  })
  assert.equal(c.port, 8080)
  assert.equal(c.redirectStatus, 301)
  assert.deepEqual(c.kafkaBrokers, ['a:1', 'b:2'])
  assert.equal(c.cacheTtlMs, 10_000)
  assert.equal(c.publicBaseUrl, 'https://sho.rt')
  assert.equal(c.mitigations.singleFlight, false)
  assert.equal(c.adminToken, undefined)
})

test('every bad variable is reported at once', () => {
  assert.throws(
    () =>
      loadConfig({
        PORT: '70000',
        REDIRECT_STATUS: '307',
        CODE_BITS: '41',
        DB_SCHEMA: 'Bad-Schema',
        MITIGATIONS: '{"nope":true}',
      }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError)
      const names = err.issues.map((i) => i.name)
      for (const name of ['PORT', 'REDIRECT_STATUS', 'CODE_BITS', 'DB_SCHEMA', 'MITIGATIONS']) {
        assert.ok(names.includes(name), `${name} reported in ${err.message}`)
      }
      return true
    },
  )
})
