/**
 * `pnpm --filter @faultline/notifications migrate` (or `node services/notifications/src/migrate.ts`): applies
 * migrations/NNNN_*.sql to DATABASE_URL in DB_SCHEMA (advisory-locked: many instances may start
 * at once).
 */
import { runMigrationsCommand, serviceMigrations } from '@faultline/migrate'
import { loadConfig } from './config.ts'

const migrations = serviceMigrations(import.meta.url)
export const migrationsDir = migrations.dir
/** The notification service's migrations, for the processes (MIGRATE_ON_START) and the tests. */
export const runMigrations = migrations.run

if (import.meta.main) await runMigrationsCommand('notifications', loadConfig, migrations)
