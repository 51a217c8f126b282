import { setTimeout as sleep } from 'node:timers/promises'
import { backoffDelayMs } from '@faultline/resilience'
import pg from 'pg'
import { loadMigrations, type Migration } from './migrations.ts'

/** Structural subset of a pino logger, so any logger (or none) fits. */
export interface MigrateLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export interface MigrateOptions {
  /** Folder of `NNNN_name.sql` files. */
  dir: string
  /** Where to connect; ignored when `pool` is given. */
  connectionString?: string
  /** An existing pool; one client is borrowed for the whole run and released. */
  pool?: pg.Pool
  /**
   * Schema the migrations run in (it becomes the session's `search_path`) and where the
   * bookkeeping table lives. Created if missing. Default: the connection's current schema.
   * Tests pass a random one to stay isolated.
   */
  schema?: string
  /** Bookkeeping table name. Default `schema_migrations`. */
  table?: string
  /**
   * `lock_timeout` for each migration's transaction, in ms. 0 (the default) is the naive
   * behaviour: DDL that needs an ACCESS EXCLUSIVE lock waits behind any long reader, and
   * every query that arrives after it queues behind the DDL (experiment pm13). A positive
   * value makes the DDL give up quickly instead; the migration is rolled back and retried
   * after a backoff, so the application's queries run in between the attempts.
   */
  lockTimeoutMs?: number
  /** Attempts after the first when a migration fails on lock_timeout. Default 10. */
  retries?: number
  /** Base of the exponential backoff between attempts (full jitter). Default 200 ms. */
  retryBaseDelayMs?: number
  /** Cap of one backoff delay. Default 5000 ms. */
  retryMaxDelayMs?: number
  /**
   * How long to wait for another runner holding the advisory lock. Default 60 000 ms; the
   * other runner normally finishes, and this one then finds nothing left to do.
   */
  advisoryLockWaitMs?: number
  log?: MigrateLogger
  signal?: AbortSignal
}

export interface AppliedMigration {
  version: number
  name: string
  /** 1 when the first try succeeded. */
  attempts: number
  durationMs: number
}

export interface MigrateResult {
  applied: AppliedMigration[]
  /** Versions that were already applied before this run. */
  alreadyApplied: number[]
}

export interface MigrationStatus {
  version: number
  name: string
  appliedAt: Date | null
}

export class MigrationChecksumError extends Error {
  override name = 'MigrationChecksumError'
}

export class MigrationLockError extends Error {
  override name = 'MigrationLockError'
}

export class MigrationFailedError extends Error {
  override name = 'MigrationFailedError'
  readonly version: number
  readonly attempts: number
  constructor(migration: Migration, attempts: number, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause)
    super(`migration ${migration.version}_${migration.name} failed after ${attempts} attempt(s): ${reason}`, {
      cause,
    })
    this.version = migration.version
    this.attempts = attempts
  }
}

/** SQLSTATE of `lock_timeout` expiring (lock_not_available). */
const lockNotAvailable = '55P03'

const silentLogger: MigrateLogger = { info() {}, warn() {} }

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

type Queryable = pg.ClientBase

interface Session {
  client: Queryable
  release(): Promise<void>
}

async function openSession(opts: MigrateOptions): Promise<Session> {
  if (opts.pool) {
    const client = await opts.pool.connect()
    // A checked-out client's 'error' (the server ended the connection between two statements)
    // has no listener in the pool and would exit the process; the next statement fails with it
    // instead. (Services use @faultline/kit's withPgClient for this; this package depends on pg
    // alone.)
    const ignore = () => {}
    client.on('error', ignore)
    return {
      client,
      async release() {
        client.off('error', ignore)
        // Destroyed rather than returned: the session's search_path must not leak into the pool.
        client.release(true)
      },
    }
  }
  if (!opts.connectionString) throw new TypeError('migrate: pass `pool` or `connectionString`')
  const client = new pg.Client({
    connectionString: opts.connectionString,
    application_name: 'faultline-migrate',
  })
  await client.connect()
  return {
    client,
    async release() {
      await client.end()
    },
  }
}

async function acquireAdvisoryLock(client: Queryable, key: string, waitMs: number, signal?: AbortSignal) {
  const deadline = Date.now() + waitMs
  for (;;) {
    const { rows } = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock(hashtext($1)) AS locked',
      [key],
    )
    if (rows[0]?.locked) return
    if (Date.now() >= deadline) {
      throw new MigrationLockError(`another migration runner held "${key}" for more than ${waitMs} ms`)
    }
    await sleep(100 + Math.random() * 150, undefined, { signal })
  }
}

async function prepareSession(
  client: Queryable,
  opts: MigrateOptions,
): Promise<{ schema: string; table: string }> {
  if (opts.schema) {
    await client.query(`SET search_path TO ${quoteIdentifier(opts.schema)}`)
    return { schema: opts.schema, table: opts.table ?? 'schema_migrations' }
  }
  const { rows } = await client.query<{ schema: string }>('SELECT current_schema() AS schema')
  return { schema: rows[0]?.schema ?? 'public', table: opts.table ?? 'schema_migrations' }
}

async function ensureBookkeeping(client: Queryable, schema: string, table: string): Promise<string> {
  const qualified = `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`)
  await client.query(`CREATE TABLE IF NOT EXISTS ${qualified} (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL,
    duration_ms integer NOT NULL
  )`)
  return qualified
}

async function applyOnce(client: Queryable, qualified: string, migration: Migration, lockTimeoutMs: number) {
  const record = async () => {
    await client.query(
      `INSERT INTO ${qualified} (version, name, checksum, attempts, duration_ms) VALUES ($1, $2, $3, 0, 0)`,
      [migration.version, migration.name, migration.checksum],
    )
  }
  if (migration.transactional) {
    await client.query('BEGIN')
    try {
      if (lockTimeoutMs > 0)
        await client.query("SELECT set_config('lock_timeout', $1, true)", [`${lockTimeoutMs}ms`])
      await client.query(migration.sql)
      await record()
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    }
    return
  }
  if (lockTimeoutMs > 0)
    await client.query("SELECT set_config('lock_timeout', $1, false)", [`${lockTimeoutMs}ms`])
  try {
    await client.query(migration.sql)
  } finally {
    if (lockTimeoutMs > 0) await client.query('RESET lock_timeout').catch(() => {})
  }
  await record()
}

/**
 * Applies every migration of `opts.dir` that the bookkeeping table does not list, in
 * version order, each in its own transaction, under a Postgres advisory lock so that
 * instances started together do not race: the first applies, the others wait and then
 * find nothing to do. Refuses to run when an applied migration's file has changed.
 */
export async function migrate(opts: MigrateOptions): Promise<MigrateResult> {
  const log = opts.log ?? silentLogger
  const lockTimeoutMs = opts.lockTimeoutMs ?? 0
  const retries = lockTimeoutMs > 0 ? (opts.retries ?? 10) : 0
  const baseMs = opts.retryBaseDelayMs ?? 200
  const maxMs = opts.retryMaxDelayMs ?? 5000
  const migrations = await loadMigrations(opts.dir)
  const session = await openSession(opts)
  const { client } = session
  try {
    const { schema, table } = await prepareSession(client, opts)
    const lockKey = `faultline-migrate:${schema}.${table}`
    await acquireAdvisoryLock(client, lockKey, opts.advisoryLockWaitMs ?? 60_000, opts.signal)
    try {
      const qualified = await ensureBookkeeping(client, schema, table)
      const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
        `SELECT version, name, checksum FROM ${qualified} ORDER BY version`,
      )
      const applied = new Map(rows.map((row) => [row.version, row]))
      const known = new Set(migrations.map((m) => m.version))
      for (const row of rows) {
        if (!known.has(row.version)) {
          log.warn({ version: row.version, name: row.name }, 'applied migration missing from the folder')
        }
      }
      for (const migration of migrations) {
        const row = applied.get(migration.version)
        if (row && row.checksum !== migration.checksum) {
          throw new MigrationChecksumError(
            `migration ${migration.version}_${migration.name} changed after it was applied; add a new migration instead`,
          )
        }
      }
      const result: MigrateResult = { applied: [], alreadyApplied: rows.map((row) => row.version) }
      for (const migration of migrations) {
        if (applied.has(migration.version)) continue
        const startedAt = performance.now()
        let attempt = 0
        for (;;) {
          attempt++
          try {
            await applyOnce(client, qualified, migration, lockTimeoutMs)
            break
          } catch (err) {
            const code = (err as { code?: string }).code
            if (code !== lockNotAvailable || attempt > retries)
              throw new MigrationFailedError(migration, attempt, err)
            // Full jitter: several instances that all timed out behind the same reader do not
            // come back in lockstep.
            const delayMs = backoffDelayMs(attempt - 1, { backoff: 'full-jitter', baseMs, capMs: maxMs })
            log.warn(
              { version: migration.version, name: migration.name, attempt, delayMs: Math.round(delayMs) },
              'migration hit lock_timeout; retrying',
            )
            await sleep(delayMs, undefined, { signal: opts.signal })
          }
        }
        const durationMs = Math.round(performance.now() - startedAt)
        await client.query(`UPDATE ${qualified} SET attempts = $2, duration_ms = $3 WHERE version = $1`, [
          migration.version,
          attempt,
          durationMs,
        ])
        log.info(
          { version: migration.version, name: migration.name, attempts: attempt, durationMs },
          'migration applied',
        )
        result.applied.push({
          version: migration.version,
          name: migration.name,
          attempts: attempt,
          durationMs,
        })
      }
      return result
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]).catch(() => {})
    }
  } finally {
    await session.release()
  }
}

/** Every migration of the folder with when it was applied (null: pending). */
export async function migrationStatus(opts: MigrateOptions): Promise<MigrationStatus[]> {
  const migrations = await loadMigrations(opts.dir)
  const session = await openSession(opts)
  try {
    const { schema, table } = await prepareSession(session.client, opts)
    const { rows: exists } = await session.client.query<{ found: string | null }>(
      'SELECT to_regclass($1) AS found',
      [`${quoteIdentifier(schema)}.${quoteIdentifier(table)}`],
    )
    const applied = new Map<number, Date>()
    if (exists[0]?.found) {
      const { rows } = await session.client.query<{ version: number; applied_at: Date }>(
        `SELECT version, applied_at FROM ${quoteIdentifier(schema)}.${quoteIdentifier(table)}`,
      )
      for (const row of rows) applied.set(row.version, row.applied_at)
    }
    return migrations.map((m) => ({
      version: m.version,
      name: m.name,
      appliedAt: applied.get(m.version) ?? null,
    }))
  } finally {
    await session.release()
  }
}
