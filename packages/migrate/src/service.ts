/**
 * A service's own migrations: its folder bound once (`serviceMigrations(import.meta.url)` from
 * `src/migrate.ts` finds `../migrations/`), and the command that applies them from the service's
 * config — so each service's `src/migrate.ts` is its config and a name, not a copy of this.
 */
import { fileURLToPath } from 'node:url'
import type pg from 'pg'
import { type MigrateLogger, type MigrateOptions, type MigrateResult, migrate } from './migrate.ts'

export interface RunMigrationsOptions extends Partial<Omit<MigrateOptions, 'dir' | 'pool' | 'log'>> {
  pool?: pg.Pool
  log?: MigrateLogger
}

export interface ServiceMigrations {
  /** The folder of `NNNN_name.sql` files. */
  dir: string
  /** Applies them (advisory-locked: many instances may start at once). */
  run(o: RunMigrationsOptions): Promise<MigrateResult>
}

/** The migrations in `../migrations/` relative to the module at `moduleUrl` (its `import.meta.url`). */
export function serviceMigrations(moduleUrl: string): ServiceMigrations {
  const dir = fileURLToPath(new URL('../migrations/', moduleUrl))
  return { dir, run: (o) => migrate({ dir, ...o }) }
}

/** What the command reads from a service's config (every service's Config has these). */
export interface MigrationsCommandConfig {
  databaseUrl: string
  dbSchema: string
  logLevel: string
}

/**
 * The `node services/<system>/src/migrate.ts` command: reads the config (a bad variable ends the
 * process with its message, exit 1), applies the migrations with `options(config)` on top, logs
 * what it applied as JSON lines.
 */
export async function runMigrationsCommand<C extends MigrationsCommandConfig>(
  name: string,
  loadConfig: () => C,
  migrations: ServiceMigrations,
  options: (config: C) => RunMigrationsOptions = () => ({}),
): Promise<void> {
  try {
    const config = loadConfig()
    const log = jsonLog(`${name}-migrate`, config.logLevel)
    const result = await migrations.run({
      connectionString: config.databaseUrl,
      schema: config.dbSchema,
      ...options(config),
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
    // A configuration error's message lists every bad variable: that, not a stack, is the answer.
    console.error(err instanceof Error && err.name === 'ConfigError' ? err.message : err)
    process.exit(1)
  }
}

/** One JSON object per line, pino's shape (level 30 info, 40 warn); `silent` prints nothing. */
function jsonLog(name: string, level: string): MigrateLogger {
  const line = (n: number, obj: object, msg: string) =>
    level === 'silent' || (level === 'warn' && n < 40) || ['error', 'fatal'].includes(level)
      ? undefined
      : console.log(JSON.stringify({ level: n, time: Date.now(), name, ...obj, msg }))
  return { info: (obj, msg) => line(30, obj, msg), warn: (obj, msg) => line(40, obj, msg) }
}
