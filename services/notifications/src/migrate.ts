/**
 * `pnpm --filter @faultline/notifications migrate` (or `node services/notifications/src/migrate.ts`): applies
 * migrations/NNNN_*.sql to DATABASE_URL in DB_SCHEMA (advisory-locked: many instances may start
 * at once).
 */
import { fileURLToPath } from 'node:url'
import { createLogger } from '@faultline/kit/logging'
import { type MigrateLogger, type MigrateResult, migrate } from '@faultline/migrate'
import type pg from 'pg'
import { ConfigError, loadConfig } from './config.ts'

export const migrationsDir = fileURLToPath(new URL('../migrations/', import.meta.url))

export interface RunMigrationsOptions {
  pool?: pg.Pool
  connectionString?: string
  schema?: string
  log?: MigrateLogger
}

/** The notification service's migrations, for the processes (MIGRATE_ON_START) and the tests. */
export function runMigrations(o: RunMigrationsOptions): Promise<MigrateResult> {
  return migrate({ dir: migrationsDir, ...o })
}

if (import.meta.main) {
  try {
    const config = loadConfig()
    const log = createLogger({ name: 'notifications-migrate', level: config.logLevel })
    const result = await runMigrations({ connectionString: config.databaseUrl, schema: config.dbSchema, log })
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
