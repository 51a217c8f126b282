import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** One `NNNN_name.sql` file of a migrations folder. */
export interface Migration {
  /** The number before the first underscore: `0001_links.sql` → 1. Unique in a folder. */
  version: number
  /** The part after the underscore, without `.sql`: `links`. */
  name: string
  /** Absolute or relative path the file was read from. */
  file: string
  sql: string
  /** sha256 of the file's bytes. An applied migration whose file changed is refused: forward-only. */
  checksum: string
  /**
   * False when the file starts with the directive `-- migrate:no-transaction`: the migration
   * then runs outside a transaction (needed by `CREATE INDEX CONCURRENTLY`), so it must hold
   * exactly one statement, because a half-applied multi-statement file could not be retried.
   */
  transactional: boolean
}

const fileNamePattern = /^(\d{4,})_([a-z0-9][a-z0-9_-]*)\.sql$/

export class MigrationFolderError extends Error {
  override name = 'MigrationFolderError'
}

/** Whether the first comment lines of a migration carry `-- migrate:no-transaction`. */
export function isTransactional(sql: string): boolean {
  for (const line of sql.split('\n')) {
    const trimmed = line.trim()
    if (trimmed === '') continue
    if (!trimmed.startsWith('--')) return true
    if (/^--\s*migrate:no-transaction\b/.test(trimmed)) return false
  }
  return true
}

/**
 * Reads every `NNNN_name.sql` file of `dir`, ordered by version. Other files are ignored, but
 * a `.sql` file that does not follow the pattern, or two files with the same version, fail
 * loudly: a migration silently skipped is worse than one that refuses to run.
 */
export async function loadMigrations(dir: string): Promise<Migration[]> {
  const entries = await readdir(dir)
  const migrations: Migration[] = []
  const seen = new Map<number, string>()
  for (const entry of entries.sort()) {
    if (!entry.endsWith('.sql')) continue
    const match = fileNamePattern.exec(entry)
    if (!match) {
      throw new MigrationFolderError(`${entry}: migration files are named NNNN_name.sql (lowercase name)`)
    }
    const version = Number(match[1])
    const previous = seen.get(version)
    if (previous !== undefined) {
      throw new MigrationFolderError(`${entry} and ${previous} share version ${version}`)
    }
    seen.set(version, entry)
    const file = join(dir, entry)
    const sql = await readFile(file, 'utf8')
    migrations.push({
      version,
      name: match[2] as string,
      file,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
      transactional: isTransactional(sql),
    })
  }
  return migrations.sort((a, b) => a.version - b.version)
}
