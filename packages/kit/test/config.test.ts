import assert from 'node:assert/strict'
import { test } from 'node:test'
import { serviceEnv } from '@faultline/infra'
import {
  ConfigError,
  commonEnv,
  envBoolean,
  envList,
  httpEnv,
  kafkaEnv,
  loadConfig,
  postgresEnv,
  Type,
} from '../src/config.ts'

const schema = Type.Object({
  ...httpEnv,
  ...postgresEnv,
  ...kafkaEnv,
  API_TOKEN: Type.String({ minLength: 8 }),
  NEGATIVE_CACHE: envBoolean(true),
})

test('with zero env every shared variable defaults to the native infra through Toxiproxy', () => {
  const config = loadConfig(Type.Object(commonEnv), {})
  const infra = serviceEnv()
  assert.equal(config.DATABASE_URL, infra.DATABASE_URL)
  assert.equal(config.DATABASE_REPLICA_URL, infra.DATABASE_REPLICA_URL)
  assert.equal(config.REDIS_URL, infra.REDIS_URL)
  assert.equal(config.QUEUE_REDIS_URL, infra.QUEUE_REDIS_URL)
  assert.equal(config.KAFKA_BROKERS, infra.KAFKA_BROKERS)
  assert.equal(config.S3_ENDPOINT, infra.S3_ENDPOINT)
  assert.equal(config.PORT, 3000)
  assert.equal(config.HOST, '127.0.0.1')
  assert.equal(config.LOG_LEVEL, 'info')
  assert.equal(config.SHUTDOWN_DEADLINE_MS, 10_000)
  assert.equal(config.PG_POOL_MAX, 10)
})

test('strings are converted to the declared types and empty variables count as unset', () => {
  const config = loadConfig(schema, {
    PORT: '8080',
    PG_POOL_MAX: ' 4 ',
    API_TOKEN: 'secret-token',
    NEGATIVE_CACHE: 'false',
    LOG_LEVEL: '',
    KAFKA_BROKERS: '127.0.0.1:1, 127.0.0.1:2',
  })
  assert.equal(config.PORT, 8080)
  assert.equal(config.PG_POOL_MAX, 4)
  assert.equal(config.NEGATIVE_CACHE, false)
  assert.equal(config.LOG_LEVEL, 'info')
  assert.deepEqual(envList(config.KAFKA_BROKERS), ['127.0.0.1:1', '127.0.0.1:2'])
})

test('one error lists every missing or invalid variable at once', () => {
  const env = {
    PORT: '99999',
    LOG_LEVEL: 'loud',
    DATABASE_URL: 'not a url',
    PG_POOL_MAX: 'many',
    KAFKA_BROKERS: 'no-port',
    NEGATIVE_CACHE: 'maybe',
    UNRELATED: 'ignored',
  }
  assert.throws(
    () => loadConfig(schema, env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError)
      assert.equal(err.code, 'KIT_ERR_CONFIG_INVALID')
      const names = err.issues.map((issue) => issue.name)
      assert.deepEqual(names, [
        'PORT',
        'LOG_LEVEL',
        'DATABASE_URL',
        'PG_POOL_MAX',
        'KAFKA_BROKERS',
        'API_TOKEN',
        'NEGATIVE_CACHE',
      ])
      const reasonOf = (name: string) => err.issues.find((issue) => issue.name === name)?.reason
      assert.equal(reasonOf('API_TOKEN'), 'is required')
      assert.match(reasonOf('PORT') ?? '', /65535/)
      assert.match(reasonOf('LOG_LEVEL') ?? '', /one of fatal, error, warn, info/)
      for (const name of names) assert.match(err.message, new RegExp(`${name}: `))
      return true
    },
  )
})
