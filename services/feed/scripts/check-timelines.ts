/**
 * The consistency checker: waits for the outbox and the fan-out to drain, then compares every
 * user's timeline served by the API with the one Postgres implies. See `--help` (src/check/cli.ts).
 *
 *   node services/feed/scripts/check-timelines.ts [--api http://127.0.0.1:18100] [--handle-prefix P]
 */
import { createKafka, createPgPool } from '@faultline/kit/clients'
import { createLogger } from '@faultline/kit/logging'
import { checkTimelines } from '../src/check/check-timelines.ts'
import { checkUsage, formatCheckReport, parseCheckArgs } from '../src/check/cli.ts'
import { diffTotal } from '../src/check/compare.ts'
import { groupLag, waitForDrain } from '../src/check/drain.ts'
import { ConfigError, loadConfig } from '../src/config.ts'

const parsed = parseCheckArgs(process.argv.slice(2))
if ('errors' in parsed) {
  for (const e of parsed.errors) process.stderr.write(`check-timelines: ${e}\n`)
  process.stderr.write('check-timelines: --help lists the options\n')
  process.exit(2)
}
if (parsed.help) {
  process.stdout.write(checkUsage)
  process.exit(0)
}
const command = parsed.command

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig()
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`)
  process.exit(2)
}
const schema = command.schema ?? config.dbSchema
const log = createLogger({ name: 'feed-check', level: 'warn' })
const pool = createPgPool(config.databaseUrl, { max: 4, applicationName: 'feed-check', log })
const startedAt = performance.now()
try {
  if (command.drain) {
    // kafkajs' own log lines stay out of the report (no `log`): a failure surfaces as an error.
    const admin = createKafka({ brokers: config.kafkaBrokers, clientId: 'feed-check' }).admin()
    await admin.connect()
    try {
      let lastNote = 0
      await waitForDrain({
        pg: pool,
        schema,
        kafka: groupLag(admin),
        groupId: config.fanoutGroupId,
        topic: config.postsTopic,
        timeoutMs: command.drainTimeoutMs,
        onWait: ({ outbox, lag }) => {
          if (Date.now() - lastNote < 2000) return
          lastNote = Date.now()
          process.stderr.write(
            `waiting for the fan-out to drain: outbox ${outbox} rows, lag ${Number.isNaN(lag) ? '?' : lag}\n`,
          )
        },
      })
    } finally {
      await admin.disconnect()
    }
  }
  const report = await checkTimelines({
    pg: pool,
    schema,
    baseUrls: command.baseUrls,
    cap: config.timelineCap,
    concurrency: command.concurrency,
    ...(command.handlePrefix === undefined ? {} : { handlePrefix: command.handlePrefix }),
    onBatch: (r) => {
      if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2Kchecked ${r.users} users…`)
    },
  })
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K')
  process.stdout.write(`${formatCheckReport(report, performance.now() - startedAt)}\n`)
  process.exitCode = diffTotal(report) === 0 ? 0 : 1
} catch (err) {
  process.stderr.write(`check-timelines: ${(err as Error).stack}\n`)
  process.exitCode = 1
} finally {
  await pool.end()
}
