/**
 * `pnpm --filter @faultline/feed migrate` (or `node services/feed/src/migrate.ts`): applies
 * migrations/NNNN_*.sql to DATABASE_URL in DB_SCHEMA (advisory-locked: many instances may start
 * at once).
 */
import { createLogger } from '@faultline/kit/logging'
import { type RunMigrationsOptions, runMigrationsCommand, serviceMigrations } from '@faultline/migrate'
import { loadConfig } from './config.ts'

const migrations = serviceMigrations(import.meta.url)
export const migrationsDir = migrations.dir

/** The feed's migrations, for the processes (MIGRATE_ON_START), the seed command and the tests. */
export function runMigrations(o: RunMigrationsOptions) {
  return migrations.run(o)
}

if (import.meta.main) {
  await runMigrationsCommand(() => {
    const config = loadConfig()
    return {
      connectionString: config.databaseUrl,
      schema: config.dbSchema,
      log: createLogger({ name: 'feed-migrate', level: config.logLevel }),
    }
  }, migrations)
}
