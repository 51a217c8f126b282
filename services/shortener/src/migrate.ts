/**
 * `pnpm --filter @faultline/shortener migrate` (or `node services/shortener/src/migrate.ts`):
 * applies migrations/NNNN_*.sql to DATABASE_URL. With the `migrationLockTimeout` switch on (the
 * default), each migration gets lock_timeout = MIGRATE_LOCK_TIMEOUT_MS and is retried with backoff
 * (the pm13 mitigation); off, DDL waits for its lock forever (naive).
 */
import { fileURLToPath } from 'node:url'
import { createLogger } from '@faultline/kit/logging'
import { type MigrateLogger, type MigrateResult, migrate } from '@faultline/migrate'
import type pg from 'pg'
import { type Config, ConfigError, loadConfig } from './config.ts'

export const migrationsDir = fileURLToPath(new URL('../migrations/', import.meta.url))

export interface RunMigrationsOptions {
  pool?: pg.Pool
  connectionString?: string
  schema?: string
  lockTimeoutMs?: number
  retries?: number
  log?: MigrateLogger
}

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
export function runMigrations(o: RunMigrationsOptions): Promise<MigrateResult> {
  return migrate({ dir: migrationsDir, ...o })
}

if (import.meta.main) {
  try {
    const config = loadConfig()
    const log = createLogger({ name: 'shortener-migrate', level: config.logLevel })
    const result = await runMigrations({
      connectionString: config.databaseUrl,
      ...migrationOptions(config),
      log,
    })
    log.info(
      {
        applied: result.applied.map((m) => `${m.version}_${m.name}`),
        alreadyApplied: result.alreadyApplied.length,
      },
      'migrations done',
    )
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : err)
    process.exit(1)
  }
}
