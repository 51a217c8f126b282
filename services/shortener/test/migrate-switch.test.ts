import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadConfig } from '../src/config.ts'
import { migrationLockTimeoutMs } from '../src/migrate.ts'

test('migrationLockTimeout on: migrations get MIGRATE_LOCK_TIMEOUT_MS; off: 0, they wait for locks forever (pm13 naive)', () => {
  assert.equal(migrationLockTimeoutMs(loadConfig({})), 200)
  assert.equal(migrationLockTimeoutMs(loadConfig({ MIGRATE_LOCK_TIMEOUT_MS: '750' })), 750)
  assert.equal(migrationLockTimeoutMs(loadConfig({ MITIGATION_MIGRATION_LOCK_TIMEOUT: 'false' })), 0)
  assert.equal(migrationLockTimeoutMs(loadConfig({ MITIGATIONS: '{"migrationLockTimeout":false}' })), 0)
})
