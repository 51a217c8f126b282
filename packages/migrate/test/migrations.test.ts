import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { isTransactional, loadMigrations, MigrationFolderError } from '../src/migrations.ts'

async function folder(t: { after(fn: () => Promise<void>): void }, files: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), 'migrate-unit-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  for (const [name, sql] of Object.entries(files)) await writeFile(join(dir, name), sql)
  return dir
}

test('loadMigrations orders by version and ignores non-sql files', async (t) => {
  const dir = await folder(t, {
    '0010_later.sql': 'SELECT 10;',
    '0002_second.sql': 'SELECT 2;',
    '0001_first.sql': 'SELECT 1;',
    'README.md': 'not a migration',
  })
  const migrations = await loadMigrations(dir)
  assert.deepEqual(
    migrations.map((m) => [m.version, m.name]),
    [
      [1, 'first'],
      [2, 'second'],
      [10, 'later'],
    ],
  )
  assert.match(migrations[0]?.checksum ?? '', /^[0-9a-f]{64}$/)
})

test('loadMigrations refuses a badly named .sql file', async (t) => {
  const dir = await folder(t, { '1_x.sql': 'SELECT 1;' })
  await assert.rejects(loadMigrations(dir), MigrationFolderError)
})

test('loadMigrations refuses two files with the same version', async (t) => {
  const dir = await folder(t, { '0001_a.sql': 'SELECT 1;', '0001_b.sql': 'SELECT 1;' })
  await assert.rejects(loadMigrations(dir), /share version 1/)
})

test('the no-transaction directive is read from the leading comments only', () => {
  assert.equal(isTransactional('CREATE TABLE t (id int);'), true)
  assert.equal(isTransactional('-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (id);'), false)
  assert.equal(
    isTransactional('\n-- why: big table\n--migrate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (id);'),
    false,
  )
  assert.equal(isTransactional('SELECT 1;\n-- migrate:no-transaction'), true)
})
