#!/usr/bin/env node
/**
 * Generic migration runner:
 *   node packages/migrate/src/cli.ts --dir services/shortener/migrations [--schema s]
 *     [--lock-timeout-ms 500] [--retries 10] [--status]
 * Connects to DATABASE_URL. Services wrap `migrate()` with their own config instead
 * (services/shortener/src/migrate.ts); this entry point is for ad-hoc work and the lab.
 */
import { parseArgs } from 'node:util'
import { migrate, migrationStatus } from './migrate.ts'

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    schema: { type: 'string' },
    table: { type: 'string' },
    'lock-timeout-ms': { type: 'string' },
    retries: { type: 'string' },
    status: { type: 'boolean', default: false },
  },
})

const connectionString = process.env.DATABASE_URL
if (!values.dir || !connectionString) {
  console.error(
    'usage: DATABASE_URL=postgres://… faultline-migrate --dir <folder> [--schema s] [--lock-timeout-ms N]',
  )
  process.exit(2)
}

const log = {
  info: (obj: object, msg: string) => console.log(JSON.stringify({ level: 'info', msg, ...obj })),
  warn: (obj: object, msg: string) => console.error(JSON.stringify({ level: 'warn', msg, ...obj })),
}

const options = {
  dir: values.dir,
  connectionString,
  schema: values.schema,
  table: values.table,
  lockTimeoutMs: values['lock-timeout-ms'] ? Number(values['lock-timeout-ms']) : 0,
  retries: values.retries ? Number(values.retries) : undefined,
  log,
}

try {
  if (values.status) {
    for (const row of await migrationStatus(options)) {
      console.log(
        `${String(row.version).padStart(4, '0')}_${row.name}\t${row.appliedAt?.toISOString() ?? 'pending'}`,
      )
    }
  } else {
    const result = await migrate(options)
    console.log(`applied ${result.applied.length}, already applied ${result.alreadyApplied.length}`)
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : err)
  process.exit(1)
}
