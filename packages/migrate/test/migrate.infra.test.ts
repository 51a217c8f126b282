import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { testInfra } from '@faultline/testkit'
import type pg from 'pg'
import { MigrationChecksumError, MigrationFailedError, migrate, migrationStatus } from '../src/index.ts'

interface Ctx {
  after(fn: () => unknown): void
}

/** A random schema (dropped afterwards) and a folder of migration files. */
async function isolated(t: Ctx, files: Record<string, string>) {
  const infra = await testInfra(t, { need: ['postgres'] })
  const { schema, pool } = await infra.schema()
  const dir = await mkdtemp(join(tmpdir(), 'migrate-infra-'))
  infra.defer(() => rm(dir, { recursive: true, force: true }))
  for (const [name, sql] of Object.entries(files)) await writeFile(join(dir, name), sql)
  return { schema, dir, pool, connectionString: infra.urls.databaseUrl, defer: infra.defer }
}

test('applies pending migrations once, in order, and records them', async (t) => {
  const { schema, dir, pool } = await isolated(t, {
    '0001_items.sql': 'CREATE TABLE items (id int PRIMARY KEY);',
    '0002_items_name.sql': 'ALTER TABLE items ADD COLUMN name text;',
  })
  const first = await migrate({ dir, pool, schema })
  assert.deepEqual(
    first.applied.map((m) => m.version),
    [1, 2],
  )
  const second = await migrate({ dir, pool, schema })
  assert.deepEqual(second.applied, [])
  assert.deepEqual(second.alreadyApplied, [1, 2])
  const { rows } = await pool.query(
    `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'items' ORDER BY 1`,
    [schema],
  )
  assert.deepEqual(
    rows.map((r) => r.column_name),
    ['id', 'name'],
  )
  const status = await migrationStatus({ dir, pool, schema })
  assert.ok(status.every((s) => s.appliedAt instanceof Date))
})

test('concurrent runners apply each migration exactly once', async (t) => {
  const { schema, dir, pool, connectionString } = await isolated(t, {
    '0001_a.sql': 'CREATE TABLE a (id int);',
    '0002_b.sql': 'CREATE TABLE b (id int);',
    '0003_c.sql': 'CREATE TABLE c (id int);',
  })
  const results = await Promise.all(
    Array.from({ length: 6 }, () => migrate({ dir, connectionString, schema })),
  )
  const appliedVersions = results.flatMap((r) => r.applied.map((m) => m.version)).sort()
  assert.deepEqual(appliedVersions, [1, 2, 3])
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".schema_migrations`)
  assert.equal(rows[0].n, 3)
})

test('a failing migration is rolled back and not recorded', async (t) => {
  const { schema, dir, pool } = await isolated(t, {
    '0001_ok.sql': 'CREATE TABLE ok (id int);',
    '0002_broken.sql': 'CREATE TABLE half (id int);\nSELECT * FROM no_such_table;',
  })
  await assert.rejects(migrate({ dir, pool, schema }), MigrationFailedError)
  const { rows } = await pool.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`,
    [schema],
  )
  assert.deepEqual(
    rows.map((r) => r.table_name),
    ['ok', 'schema_migrations'],
  )
})

test('an applied migration whose file changed is refused (forward-only)', async (t) => {
  const { schema, dir, pool } = await isolated(t, { '0001_a.sql': 'CREATE TABLE a (id int);' })
  await migrate({ dir, pool, schema })
  await writeFile(join(dir, '0001_a.sql'), 'CREATE TABLE a (id bigint);')
  await assert.rejects(migrate({ dir, pool, schema }), MigrationChecksumError)
})

/**
 * Opens a transaction that reads `table` and keeps its ACCESS SHARE lock until released. A test
 * that fails or times out before releasing it still ends it at cleanup: otherwise dropping the
 * schema would wait behind its lock and the run would hang instead of failing.
 */
async function longReader(
  { pool, defer }: { pool: pg.Pool; defer: (fn: () => unknown) => void },
  schema: string,
  table: string,
) {
  const client = await pool.connect()
  await client.query('BEGIN')
  await client.query(`SELECT * FROM "${schema}"."${table}"`)
  let released: Promise<void> | undefined
  const release = () => {
    released ??= client.query('COMMIT').then(() => client.release())
    return released
  }
  defer(release)
  return release
}

/** Resolves once an ALTER TABLE is waiting for a lock in Postgres. */
async function ddlWaiting(pool: pg.Pool) {
  for (;;) {
    const { rows } = await pool.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'ALTER TABLE t %'",
    )
    if (rows[0].n > 0) return
    await sleep(20)
  }
}

test('naive: DDL behind a long reader waits, and later readers queue behind the DDL', async (t) => {
  const { schema, dir, pool, defer } = await isolated(t, { '0001_t.sql': 'CREATE TABLE t (id int);' })
  await migrate({ dir, pool, schema })
  await writeFile(join(dir, '0002_alter.sql'), 'ALTER TABLE t ADD COLUMN extra int;')
  const release = await longReader({ pool, defer }, schema, 't')
  let done = false
  const running = migrate({ dir, pool, schema }).finally(() => {
    done = true
  })
  await ddlWaiting(pool)
  // A plain reader arriving now queues behind the waiting ALTER: it cannot finish within 200 ms.
  const reader = await pool.connect()
  await reader.query("SET statement_timeout = '200ms'")
  await assert.rejects(reader.query(`SELECT * FROM "${schema}".t`), /statement timeout/)
  reader.release(true)
  assert.equal(done, false, 'the DDL waits as long as the reader holds its lock')
  await release()
  const result = await running
  assert.equal(result.applied[0]?.attempts, 1)
})

test('hardened: lock_timeout gives up quickly and retries until the reader is gone', async (t) => {
  const { schema, dir, pool, defer } = await isolated(t, { '0001_t.sql': 'CREATE TABLE t (id int);' })
  await migrate({ dir, pool, schema })
  await writeFile(join(dir, '0002_alter.sql'), 'ALTER TABLE t ADD COLUMN extra int;')
  const release = await longReader({ pool, defer }, schema, 't')
  // The reader is released once the DDL has given up at least once (its retry is logged), not after
  // a fixed sleep: on a busy machine the first attempt may not even have started by then.
  const { promise: gaveUp, resolve: onGaveUp } = Promise.withResolvers<void>()
  const running = migrate({
    dir,
    pool,
    schema,
    lockTimeoutMs: 50,
    retries: 50,
    retryBaseDelayMs: 20,
    retryMaxDelayMs: 100,
    log: {
      info() {},
      warn(_obj, msg) {
        if (msg === 'migration hit lock_timeout; retrying') onGaveUp()
      },
    },
  })
  try {
    // `running` settling first (it failed, or never waited for the lock) is reported below as it is.
    await Promise.race([gaveUp, running])
  } finally {
    // Between attempts nothing holds or waits for the ACCESS EXCLUSIVE lock, so readers get through.
    await release()
  }
  const result = await running
  assert.ok((result.applied[0]?.attempts ?? 0) > 1, 'the DDL should have timed out at least once')
  const { rows } = await pool.query(`SELECT attempts FROM "${schema}".schema_migrations WHERE version = 2`)
  assert.equal(rows[0].attempts, result.applied[0]?.attempts)
})

test('hardened: gives up with the lock error once the retries are spent', async (t) => {
  const { schema, dir, pool, defer } = await isolated(t, { '0001_t.sql': 'CREATE TABLE t (id int);' })
  await migrate({ dir, pool, schema })
  await writeFile(join(dir, '0002_alter.sql'), 'ALTER TABLE t ADD COLUMN extra int;')
  const release = await longReader({ pool, defer }, schema, 't')
  try {
    await assert.rejects(
      migrate({ dir, pool, schema, lockTimeoutMs: 20, retries: 2, retryBaseDelayMs: 5 }),
      (err: unknown) => err instanceof MigrationFailedError && err.attempts === 3 && err.version === 2,
    )
  } finally {
    await release()
  }
})

test('no-transaction migrations run outside a transaction (CREATE INDEX CONCURRENTLY)', async (t) => {
  const { schema, dir, pool } = await isolated(t, {
    '0001_t.sql': 'CREATE TABLE t (id int);',
    '0002_t_id.sql': '-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);',
  })
  const result = await migrate({ dir, pool, schema, lockTimeoutMs: 1000 })
  assert.deepEqual(
    result.applied.map((m) => m.version),
    [1, 2],
  )
  const { rows } = await pool.query(
    'SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = $1 AND indexname = $2',
    [schema, 't_id'],
  )
  assert.equal(rows[0].n, 1)
})
