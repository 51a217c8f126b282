/**
 * The checker command's flags and its report: after the fan-out drains, every user's timeline read
 * through the API against the one Postgres implies, one line per kind of difference.
 */
import { parseArgs } from 'node:util'
import type { CheckReport } from './check-timelines.ts'
import { type DiffKind, diffKinds, diffTotal } from './compare.ts'

export const checkUsage = `Checks every home timeline served by the feed's API against Postgres.

  node services/feed/scripts/check-timelines.ts [options]

  --api URL             an API base URL; repeat or comma-separate for several (default
                        http://127.0.0.1:18100, ./faultline up feed's)
  --handle-prefix P     only users whose handle starts with P (default: every user)
  --concurrency N       timelines read at once (default 8)
  --drain-timeout-s N   wait at most this long for the outbox and the fan-out to drain (default 120)
  --no-drain            do not wait (nothing is writing and the fan-out is known to be idle)
  --schema NAME         DB schema (default DB_SCHEMA, else feed)
  --help                this text

First it waits until the outbox is empty and the fan-out consumer group (FANOUT_GROUP_ID on
POSTS_TOPIC) has no lag; then, for each user, it reads every page of GET /api/users/:id/timeline
and compares it with the followees' and the user's own posts in Postgres (not deleted, newest
first, the newest TIMELINE_CAP). Prints missing, duplicated, out of order, deleted but visible and
extra, each over its total; exits 1 if any is not zero, 2 on bad flags. Postgres, Kafka and the
settings come from the service's config (DATABASE_URL, KAFKA_BROKERS, TIMELINE_CAP, …).
`

export interface CheckCommand {
  baseUrls: string[]
  handlePrefix: string | undefined
  concurrency: number
  drainTimeoutMs: number
  drain: boolean
  schema: string | undefined
}

export type ParsedCheckArgs = { help: true } | { help: false; command: CheckCommand } | { errors: string[] }

export function parseCheckArgs(argv: readonly string[]): ParsedCheckArgs {
  let values: Record<string, string | string[] | boolean | undefined>
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        api: { type: 'string', multiple: true },
        'handle-prefix': { type: 'string' },
        concurrency: { type: 'string', default: '8' },
        'drain-timeout-s': { type: 'string', default: '120' },
        'no-drain': { type: 'boolean', default: false },
        schema: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values
  } catch (err) {
    return { errors: [(err as Error).message] }
  }
  if (values.help) return { help: true }
  const errors: string[] = []
  const baseUrls = ((values.api as string[] | undefined) ?? ['http://127.0.0.1:18100'])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim().replace(/\/$/, ''))
    .filter((v) => v !== '')
  for (const url of baseUrls) if (!URL.canParse(url)) errors.push(`--api "${url}" is not a URL`)
  const positive = (name: string): number => {
    const v = Number(values[name])
    if (!Number.isInteger(v) || v < 1)
      errors.push(`--${name} must be a positive integer, got ${values[name]}`)
    return v
  }
  const concurrency = positive('concurrency')
  const drainTimeoutMs = positive('drain-timeout-s') * 1000
  const schema = values.schema as string | undefined
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    errors.push(`--schema "${schema}" is not a valid schema name`)
  if (errors.length > 0) return { errors }
  return {
    help: false,
    command: {
      baseUrls,
      handlePrefix: values['handle-prefix'] as string | undefined,
      concurrency,
      drainTimeoutMs,
      drain: values['no-drain'] !== true,
      schema,
    },
  }
}

const labels: Record<DiffKind, string> = {
  missing: 'missing',
  duplicated: 'duplicated',
  outOfOrder: 'out of order',
  deletedVisible: 'deleted but visible',
  extra: 'extra (not a followee’s)',
}

/** The report: one line per kind over its total, then the first users with a difference. */
export function formatCheckReport(r: CheckReport, durationMs: number): string {
  const lines = [
    `checked ${r.users} users in ${(durationMs / 1000).toFixed(1)} s: ${r.servedItems} items served, ${r.expectedItems} expected${r.rebuilding > 0 ? `, ${r.rebuilding} rebuilding (206) answers waited through` : ''}`,
  ]
  for (const kind of diffKinds) {
    const total = kind === 'missing' ? r.expectedItems : r.servedItems
    lines.push(`  ${labels[kind].padEnd(26)} ${String(r[kind]).padStart(8)} / ${total}`)
  }
  for (const f of r.failures) {
    const parts = diffKinds
      .filter((k) => f[k] > 0)
      .map((k) => `${labels[k]} ${f[k]} (${f.examples[k]?.join(', ')})`)
    lines.push(`  user ${f.userId}: ${parts.join('; ')}`)
  }
  lines.push(
    diffTotal(r) === 0 ? 'OK: every timeline matches Postgres' : 'FAILED: timelines differ from Postgres',
  )
  return lines.join('\n')
}
