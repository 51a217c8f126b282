/**
 * pm13 — a migration's lock queues every query behind it (GoCardless, "Zero-downtime Postgres
 * migrations: the hard parts"; Braintree; Flagsmith).
 *
 * Two API instances serve redirects of 500 codes, uniformly, with a 1 s cache TTL
 * (`CACHE_TTL_S=1`, `CACHE_STALE_S=0`): most redirects miss Redis and look their code up in the
 * `links` table, as every request of a table-backed endpoint would. Then:
 * - F1, a long reader: a transaction that read `links` stays open for 10–12 s (an analytics
 *   query, a forgotten `BEGIN` in psql) — it holds ACCESS SHARE on `links`;
 * - F2, a migration: `ALTER TABLE links ADD COLUMN pm13_note text`, run by the shared runner
 *   (`packages/migrate/src/cli.ts`, the `@faultline/migrate` API) from a throwaway folder the
 *   experiment writes, with its own bookkeeping table — the service's migrations are untouched.
 *
 * The ALTER needs ACCESS EXCLUSIVE, so it waits for the reader; and every later query on `links`
 * needs a lock that conflicts with the queued ALTER, so it waits behind it. Naive (the switch
 * off: no lock_timeout, the runner's default): redirects stop until the reader ends, then the
 * ALTER runs and everything flows again. Hardened (`migrationLockTimeout` on): the runner sets
 * `lock_timeout` = 200 ms, so each attempt gives up after 200 ms and rolls back, releasing the
 * queue, and retries with jittered exponential backoff; redirects wait 200 ms at worst, and the
 * migration lands soon after the reader ends.
 *
 * How the switch reaches the runner: the lab passes the mode's switches to every service (the
 * service lists `migrationLockTimeout` and uses it for its own boot-time migrations) and to every
 * fault action as `ctx.mitigations`; the migration fault (`command` with args computed from the
 * fault context) adds `--lock-timeout-ms 200 --retries 50` only when `migrationLockTimeout` is on.
 *
 * Invariants: no redirect blocked > 1 s by the DDL — p99 of redirects from the ALTER to 2 s after
 * the reader ends ≤ 1 s — and ≥ 99% of them succeed in that window (both fail naive: requests
 * time out, or get 503 from the cold-path bulkhead while its slots are stuck behind the lock;
 * both hold hardened); the migration was applied by the end, in
 * both modes (in naive it lands once the reader is gone); and, as a check on the run itself, the
 * redirects did read Postgres.
 */
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  command,
  defineExperiment,
  type FaultContext,
  type HookContext,
  invariant,
  p99Below,
  type RunContext,
  sql,
  successAtLeast,
} from '@faultline/lab'
import { fixture } from '@faultline/shortener/fixture'
import shortener from '@faultline/shortener/system'
import { apiUrls } from './lib/api-urls.ts'

/** Codes are custom aliases `pm13-0000` …, so the load script can name them without asking. */
const codePrefix = 'pm13-'
const codeCount = 500
const instances = 2
/**
 * The migration (`ALTER TABLE links ADD COLUMN pm13_note text`), written to a throwaway folder and
 * applied by the shared runner with a bookkeeping table of its own; undone before each mode.
 */
const drill = fixture.addColumnDrill({
  column: 'pm13_note',
  bookkeepingTable: 'pm13_schema_migrations',
  dir: join(tmpdir(), 'faultline-pm13', 'migrations'),
  writtenBy: 'chaos/shortener/pm13-migration-lock.ts',
})
/** Hardened: how long one attempt may wait for its lock before it gives up and retries. */
const lockTimeoutMs = 200
const lockRetries = 50

function code(i: number): string {
  return `${codePrefix}${String(i).padStart(4, '0')}`
}

/** The migration runner's arguments for this mode: lock_timeout + retries only when the switch is on. */
function migrationArgs(ctx: FaultContext): string[] {
  const args = ['packages/migrate/src/cli.ts', ...drill.runnerArgs()]
  if (ctx.mitigations.migrationLockTimeout) {
    args.push('--lock-timeout-ms', String(lockTimeoutMs), '--retries', String(lockRetries))
  }
  return args
}

/**
 * The migration written again and undone (first: an ALTER an interrupted run left waiting would
 * keep `links` locked for the reset), then the codes of an earlier run removed.
 */
async function resetSchema(ctx: HookContext): Promise<void> {
  await drill.prepare(ctx.pg)
  await fixture.reset(ctx, codePrefix)
}

/** Creates every code through the API (not warmed: with a 1 s TTL the cache holds few anyway). */
async function createCodes(ctx: HookContext): Promise<void> {
  const links = Array.from({ length: codeCount }, (_, i) => ({
    code: code(i),
    url: `https://example.com/pm13/${code(i)}`,
  }))
  await fixture.createLinks(apiUrls(ctx), links, { concurrency: 25 })
  ctx.log(`${codeCount} codes created`)
}

interface Plan {
  readerAt: number
  readerUntil: number
  migrationAt: number
}

function timeline({ readerAt, readerUntil, migrationAt }: Plan) {
  return [
    {
      at: readerAt,
      until: readerUntil,
      action: sql(drill.longReadStatement, { holdOpen: true }),
      label: 'long reader: transaction on links held open (ACCESS SHARE)',
    },
    {
      at: migrationAt,
      action: command('node', migrationArgs, { timeoutS: 90 }),
      label: `migration: ${drill.ddl}`,
    },
  ]
}

/** The invariants' window: from the ALTER until 2 s after the reader lets go. */
function ddlWindow({ readerUntil, migrationAt }: Plan) {
  return { fromS: migrationAt, toS: readerUntil + 2 }
}

const full: Plan = { readerAt: 10, readerUntil: 22, migrationAt: 12 }
const ci: Plan = { readerAt: 6, readerUntil: 16, migrationAt: 8 }

/** The plan of the variant that ran (full or CI). */
function planOf(ctx: RunContext): Plan {
  return ctx.experiment.variant === 'ci' ? ci : full
}

export default defineExperiment({
  id: 'pm13',
  slug: 'migration-lock',
  system: shortener,
  title: 'Migration lock: ALTER TABLE behind a long reader blocks redirects',
  description:
    `Redirects of ${codeCount} codes with a 1 s cache TTL, so most read links in Postgres. A transaction holds a read lock on links; an ALTER TABLE links ADD COLUMN queues behind it and every redirect query queues behind the ALTER. ` +
    `Naive (no lock_timeout), redirects are blocked until the reader ends; hardened (lock_timeout ${lockTimeoutMs} ms + retry with backoff), each attempt gives up quickly, redirects flow, and the migration lands after the reader ends.`,
  services: { api: { instances } },
  env: {
    DB_SCHEMA: fixture.schema,
    // Cache misses on purpose: redirects must reach the table the migration alters.
    CACHE_TTL_S: '1',
    CACHE_STALE_S: '0',
  },
  mitigations: { migrationLockTimeout: true },
  infra: ['toxiproxy', 'postgres', 'redis-cache', 'kafka', 'k6'],
  reset: resetSchema,
  setup: createCodes,
  load: {
    script: 'chaos/shortener/load/pm13-uncached-redirects.js',
    durationS: 45,
    env: { RATE: '100', CODES: String(codeCount), CODE_PREFIX: codePrefix, TIMEOUT: '3s' },
  },
  timeline: timeline(full),
  settleS: 2,
  invariants: [
    invariant('no redirect blocked > 1 s by the DDL (p99, ALTER → reader end + 2 s)', '≤ 1.00 s', (ctx) =>
      p99Below(1000, { op: 'redirect', window: ddlWindow(planOf(ctx)) }).check(ctx),
    ),
    invariant('redirects keep succeeding while the migration waits', '≥ 99.0%', (ctx) =>
      successAtLeast(0.99, { op: 'redirect', window: ddlWindow(planOf(ctx)) }).check(ctx),
    ),
    invariant(
      'the migration was applied by the end',
      `links.${drill.column} exists, recorded once`,
      async (ctx) => {
        const { columnExists, applied } = await drill.state(ctx.pg)
        const run = ctx.events.find((e) => e.fault === 1 && e.phase === 'inject' && e.status !== 'started')
        return {
          holds: columnExists && applied !== undefined,
          observed: applied
            ? `applied after ${applied.attempts} attempt(s) in ${(applied.durationMs / 1000).toFixed(1)} s`
            : `${columnExists ? 'column exists but ' : ''}not applied`,
          ...(run?.note ? { detail: `migration command: ${run.note}` } : {}),
        }
      },
      { expect: 'always' },
    ),
    successAtLeast(0.99, {
      op: 'redirect',
      window: 'before-fault',
      expect: 'always',
      name: 'redirects succeed before the fault (the load itself is healthy)',
    }),
    invariant(
      'redirects read Postgres (cache misses)',
      '≥ 50% of redirects',
      (ctx) => {
        const lookups = ctx.metrics.delta('shortener_db_lookups_total')
        const redirects = ctx.metrics.delta('shortener_redirects_total')
        const ratio = redirects === 0 ? 0 : lookups / redirects
        return {
          holds: ratio >= 0.5,
          observed: `${(ratio * 100).toFixed(0)}% (${lookups} of ${redirects})`,
        }
      },
      { expect: 'always' },
    ),
  ],
  ci: {
    load: { durationS: 30 },
    timeline: timeline(ci),
    settleS: 1,
  },
})
