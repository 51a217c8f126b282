/**
 * `pnpm --filter @faultline/shortener migrate` (or `node services/shortener/src/migrate.ts`):
 * applies migrations/NNNN_*.sql to DATABASE_URL. With the `migrationLockTimeout` switch on (the
 * default), each migration gets lock_timeout = MIGRATE_LOCK_TIMEOUT_MS and is retried with backoff
 * (the pm13 mitigation); off, DDL waits for its lock forever (naive).
 */
import { type RunMigrationsOptions, runMigrationsCommand, serviceMigrations } from '@faultline/migrate'
import { type Config, loadConfig } from './config.ts'

const migrations = serviceMigrations(import.meta.url)
export const migrationsDir = migrations.dir

/**
 * pm13: the lock_timeout of this process's migrations — MIGRATE_LOCK_TIMEOUT_MS while
 * `migrationLockTimeout` is on, else 0 (wait for locks forever: the naive runner).
 */
export function migrationLockTimeoutMs(config: Pick<Config, 'migrateLockTimeoutMs' | 'mitigations'>): number {
  return config.mitigations.migrationLockTimeout ? config.migrateLockTimeoutMs : 0
}

/** Schema, lock timeout and retries of this process's migrations, from its config. */
export function migrationOptions(
  config: Pick<Config, 'dbSchema' | 'migrateLockTimeoutMs' | 'migrateRetries' | 'mitigations'>,
): Pick<RunMigrationsOptions, 'schema' | 'lockTimeoutMs' | 'retries'> {
  return {
    schema: config.dbSchema,
    lockTimeoutMs: migrationLockTimeoutMs(config),
    retries: config.migrateRetries,
  }
}

/** The shortener's migrations, for server.ts and worker.ts (MIGRATE_ON_START) and the tests. */
export const runMigrations = migrations.run

if (import.meta.main) await runMigrationsCommand('shortener', loadConfig, migrations, migrationOptions)
