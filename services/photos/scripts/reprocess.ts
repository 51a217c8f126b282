/**
 * "Reprocess all" from a shell: every photo's job on the backfill lane (`photos-backfill`), a page
 * of 1 000 at a time, against the database and the queue Redis directly — the same code as
 * `POST /admin/reprocess` (src/admin/reprocess.ts), for when the API is not the place (a run
 * over millions of photos, with progress on stderr).
 *
 *   node services/photos/scripts/reprocess.ts [--page-size 1000] [--run-id <id>]
 *
 * Configuration from the environment, like the services (DATABASE_URL, DB_SCHEMA,
 * QUEUE_REDIS_URL, QUEUE_PREFIX, JOB_ATTEMPTS, JOB_BACKOFF_MS, MITIGATION_DEADLETTER …).
 */
import { parseArgs } from 'node:util'
import { createPgPool } from '@faultline/kit/clients'
import { createLogger } from '@faultline/kit/logging'
import { reprocessAll, reprocessPageSize } from '../src/admin/reprocess.ts'
import { createQueues } from '../src/components.ts'
import { ConfigError, loadConfig } from '../src/config.ts'
import { Keys } from '../src/keys.ts'
import { createMitigationState } from '../src/mitigations.ts'
import { PhotoRepository } from '../src/repositories/photos.ts'

const usage = `Usage: node services/photos/scripts/reprocess.ts [options]

Enqueues every photo (ready, failed or processing) on the backfill lane, photos-backfill, so
the worker reprocesses it behind new uploads; its variants are replaced. Prints progress per
page on stderr and the run on stdout: "run <runId>: <n> photos enqueued on photos-backfill".

Options:
  --page-size <n>   photos read and enqueued per page (default ${reprocessPageSize})
  --run-id <id>     name of the run (jobs are backfill-<photo>-<run>; the same id twice
                    enqueues nothing new while the first run's jobs are queued); default a UUID
  -h, --help        this text

Environment: the photo services' (DATABASE_URL, DB_SCHEMA, QUEUE_REDIS_URL, QUEUE_PREFIX,
JOB_ATTEMPTS, JOB_BACKOFF_MS, MITIGATION_DEADLETTER); defaults reach ./faultline infra up.
Exit status: 0 done, 1 failed (what was enqueued stays enqueued), 2 bad arguments or config.
`

function fail(message: string): never {
  process.stderr.write(`reprocess: ${message}\nreprocess: --help lists the options\n`)
  process.exit(2)
}

let args: ReturnType<typeof parse>
function parse() {
  return parseArgs({
    options: {
      'page-size': { type: 'string' },
      'run-id': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
}
try {
  args = parse()
} catch (err) {
  fail((err as Error).message)
}
if (args.values.help) {
  process.stdout.write(usage)
  process.exit(0)
}
const pageSize = Number(args.values['page-size'] ?? reprocessPageSize)
if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 10_000)
  fail('--page-size must be an integer from 1 to 10000')
const runId = args.values['run-id']
// BullMQ job ids may not contain ':' and must not look like integers.
if (runId !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(runId))
  fail('--run-id must be 1 to 64 letters, digits, "-" or "_"')

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig()
} catch (err) {
  fail(err instanceof ConfigError ? err.message : String(err))
}
const log = createLogger({ name: 'photos-reprocess', level: 'warn' })
const pool = createPgPool(config.databaseUrl, {
  max: 2,
  searchPath: config.dbSchema,
  statementTimeoutMs: config.dbStatementTimeoutMs,
  connectionTimeoutMs: config.dbConnectTimeoutMs,
  applicationName: 'photos-reprocess',
  log,
})
const keys = new Keys(config.redisKeyPrefix, config.queuePrefix)
const queues = createQueues(config, keys, createMitigationState(config.mitigations))
const startedAt = performance.now()
try {
  const run = await reprocessAll(
    { photos: new PhotoRepository(pool), queues },
    {
      pageSize,
      ...(runId ? { runId } : {}),
      onPage: (p) => {
        const seconds = ((performance.now() - startedAt) / 1000).toFixed(1)
        process.stderr.write(`reprocess: ${p.enqueued} enqueued (up to id ${p.lastId}, ${seconds} s)\n`)
      },
    },
  )
  process.stdout.write(`run ${run.runId}: ${run.enqueued} photos enqueued on ${keys.queue('backfill')}\n`)
} catch (err) {
  process.stderr.write(`reprocess: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
} finally {
  await queues.close()
  await pool.end()
}
