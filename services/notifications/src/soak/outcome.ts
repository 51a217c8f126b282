/**
 * The soak's verdict (scripts/soak.ts), read from the truth: the delivery rows in Postgres (lost =
 * accepted deliveries not terminal after the drain, or never created), the dead letters by kind and
 * reason, and each provider's own log (duplicate sends per key).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { markdownTable, num } from '@faultline/bench'
import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { deadLetterQueueName } from '../keys.ts'
import type { Channel } from '../types.ts'

export interface ProviderSoakStats {
  requests: number
  accepted: number
  replayed: number
  dropped: number
  uniqueKeys: number
  duplicateSends: number
  honoursKeys: boolean
}

export interface SoakOutcome {
  drained: boolean
  drainSeconds: number
  notifications: number
  /** Accepted notifications with no delivery row at all (never routed). */
  unrouted: number
  deliveries: number
  byStatus: Record<string, number>
  /** Deliveries not terminal after the drain + the unrouted notifications' deliveries. */
  lost: number
  deadLetters: { kind: string; reason: string; count: number }[]
  deadLetterQueue: number
  /** Deliveries by the number of attempts they took (sent ones). */
  attempts: Record<string, number>
  providers: Record<string, ProviderSoakStats>
  duplicatesHonouring: number
  duplicatesNotHonouring: number
  /**
   * Keys sent by both SMS providers (sms-a and sms-b): a failover after a reply A sent but never
   * delivered. Neither provider sees a duplicate of its own; the recipient gets two texts.
   */
  smsBothProviders: number
  /**
   * Dead-lettered deliveries whose key a provider had in fact accepted (the send happened, its
   * reply or its markSent was lost with a killed worker): the row says dead_lettered, the
   * recipient got the message; a replay sends it again where the provider ignores keys.
   */
  deadLetteredButSent: number
}

/** Every Idempotency-Key in a provider's log (paged, 10 000 at a time). */
async function loggedKeys(providersUrl: string, name: string): Promise<Set<string>> {
  const keys = new Set<string>()
  let after = 0
  for (;;) {
    const page = (await (
      await fetch(`${providersUrl}/${name}/admin/log?after=${after}&limit=10000`)
    ).json()) as {
      entries: { seq: number; idempotencyKey: string | null }[]
    }
    for (const e of page.entries) if (e.idempotencyKey !== null) keys.add(e.idempotencyKey)
    const last = page.entries.at(-1)
    if (last === undefined) return keys
    after = last.seq
  }
}

const nonTerminal = `status NOT IN ('sent', 'dead_lettered', 'expired', 'suppressed')`

async function counts(pool: pg.Pool) {
  const [n, byStatus, unrouted, outbox] = await Promise.all([
    pool.query<{ n: string }>('SELECT count(*) AS n FROM notifications'),
    pool.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM deliveries GROUP BY status'),
    pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM notifications n WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id)',
    ),
    pool.query<{ n: string }>('SELECT count(*) AS n FROM outbox'),
  ])
  const statuses = Object.fromEntries(byStatus.rows.map((r) => [r.status, Number(r.n)]))
  const pending = (
    await pool.query<{ n: string }>(`SELECT count(*) AS n FROM deliveries WHERE ${nonTerminal}`)
  ).rows[0]
  return {
    notifications: Number(n.rows[0]?.n ?? 0),
    byStatus: statuses,
    unrouted: Number(unrouted.rows[0]?.n ?? 0),
    outbox: Number(outbox.rows[0]?.n ?? 0),
    pending: Number(pending?.n ?? 0),
  }
}

/** Polls the counts every second until nothing is in flight, unrouted or in the outbox, or `timeoutMs`. */
async function waitDrained(pool: pg.Pool, timeoutMs: number, log: (line: string) => void) {
  const started = Date.now()
  let c = await counts(pool)
  let lastLog = 0
  while (Date.now() - started < timeoutMs) {
    c = await counts(pool)
    if (c.pending === 0 && c.unrouted === 0 && c.outbox === 0) break
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now()
      log(
        `  draining: ${c.pending} deliveries in flight, ${c.unrouted} notifications unrouted, ${c.outbox} outbox rows`,
      )
    }
    await sleep(1000)
  }
  return c
}

/** Each provider's own counters and whether it honours keys (its admin routes). */
async function providerStats(providersUrl: string, names: readonly string[]) {
  const providers: Record<string, ProviderSoakStats> = {}
  for (const name of names) {
    const stats = (await (await fetch(`${providersUrl}/${name}/admin/stats`)).json()) as ProviderSoakStats
    const knobs = (await (await fetch(`${providersUrl}/${name}/admin/knobs`)).json()) as {
      honourIdempotencyKey: boolean
    }
    providers[name] = {
      requests: stats.requests,
      accepted: stats.accepted,
      replayed: stats.replayed,
      dropped: stats.dropped,
      uniqueKeys: stats.uniqueKeys,
      duplicateSends: stats.duplicateSends,
      honoursKeys: knobs.honourIdempotencyKey,
    }
  }
  return providers
}

export async function readSoakOutcome(o: {
  pool: pg.Pool
  queueRedis: Redis
  queuePrefix: string
  providersUrl: string
  providerNames: readonly string[]
  ids: readonly string[]
  channels: readonly Channel[]
  drainTimeoutMs: number
  log: (line: string) => void
}): Promise<SoakOutcome> {
  const started = Date.now()
  const c = await waitDrained(o.pool, o.drainTimeoutMs, o.log)
  const drained = c.pending === 0 && c.unrouted === 0 && c.outbox === 0
  const dead = await o.pool.query<{ kind: string; reason: string; n: string }>(
    `SELECT coalesce(dead_letter_kind, '-') AS kind, left(coalesce(reason, '-'), 120) AS reason, count(*) AS n
       FROM deliveries WHERE status = 'dead_lettered' GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 10`,
  )
  const attempts = await o.pool.query<{ attempts: number; n: string }>(
    `SELECT attempts, count(*) AS n FROM deliveries WHERE status = 'sent' GROUP BY 1 ORDER BY 1`,
  )
  const deadQueue = new Queue(deadLetterQueueName, { connection: o.queueRedis, prefix: o.queuePrefix })
  const deadLetterQueue = await deadQueue.count().finally(() => deadQueue.close())
  const providers = await providerStats(o.providersUrl, o.providerNames)
  const logged = new Map<string, Set<string>>()
  for (const name of o.providerNames) logged.set(name, await loggedKeys(o.providersUrl, name))
  let smsBothProviders = 0
  const smsA = logged.get('sms-a')
  for (const key of logged.get('sms-b') ?? []) if (smsA?.has(key)) smsBothProviders++
  const deadIds = await o.pool.query<{ id: string }>(
    `SELECT id FROM deliveries WHERE status = 'dead_lettered'`,
  )
  const anywhere = (key: string) => [...logged.values()].some((keys) => keys.has(key))
  const deadLetteredButSent = deadIds.rows.filter((r) => anywhere(r.id)).length
  const deliveries = Object.values(c.byStatus).reduce((a, b) => a + b, 0)
  const sum = (honours: boolean) =>
    Object.values(providers)
      .filter((p) => p.honoursKeys === honours)
      .reduce((n, p) => n + p.duplicateSends, 0)
  return {
    drained,
    drainSeconds: (Date.now() - started) / 1000,
    notifications: c.notifications,
    unrouted: c.unrouted,
    deliveries,
    byStatus: c.byStatus,
    lost: c.pending + c.unrouted * o.channels.length,
    deadLetters: dead.rows.map((r) => ({ kind: r.kind, reason: r.reason, count: Number(r.n) })),
    deadLetterQueue,
    attempts: Object.fromEntries(attempts.rows.map((r) => [String(r.attempts), Number(r.n)])),
    providers,
    duplicatesHonouring: sum(true),
    duplicatesNotHonouring: sum(false),
    smsBothProviders,
    deadLetteredButSent,
  }
}

export interface SoakReportInput {
  finishedAt: string
  command: string
  args: {
    count: number
    channels: readonly string[]
    killEveryS: number
    dropReplyRate: number
    noKeysProvider: string
    latencyMs: number
  }
  wallSeconds: number
  posted: { accepted: number; failed: number; seconds: number }
  kills: { kills: number; meanRestartMs: number | null }
  outcome: SoakOutcome
}

export function renderSoakReport(r: SoakReportInput, machine: string): string {
  const o = r.outcome
  const exhausted = o.deadLetters.filter((d) => d.kind === 'exhausted').reduce((n, d) => n + d.count, 0)
  return `# Notifications soak (${r.finishedAt})

- Command: \`${r.command}\`
- Machine: ${machine}
- ${r.args.count} notifications × ${r.args.channels.join(', ')}; the channel worker SIGKILLed ${r.args.killEveryS} s after each restart (${r.kills.kills} kills; kill → next worker ready ${num(r.kills.meanRestartMs)} ms on average); every provider drops ${r.args.dropReplyRate * 100} % of its replies after sending${r.args.latencyMs > 0 ? ` and answers after ${r.args.latencyMs} ms` : ''}; \`${r.args.noKeysProvider}\` ignores Idempotency-Key
- Accepted ${r.posted.accepted} (${r.posted.failed} requests without a 202) in ${num(r.posted.seconds, 1)} s; drained ${o.drained ? 'fully' : '**NOT fully**'} in ${num(o.drainSeconds, 1)} s; wall ${num(r.wallSeconds, 1)} s

${markdownTable(
  ['measure', 'target', 'measured'],
  [
    [
      'lost (accepted deliveries not terminal after the drain, or never routed)',
      '0',
      `**${o.lost}** (${o.unrouted} notifications unrouted)`,
    ],
    ['duplicate sends at providers honouring the key', '0', `**${o.duplicatesHonouring}**`],
    [
      `duplicate sends at \`${r.args.noKeysProvider}\` (ignores the key)`,
      'reported',
      `**${o.duplicatesNotHonouring}**`,
    ],
    [
      'SMS sent by both sms-a and sms-b (failover after a dropped reply; same key)',
      'reported',
      `**${o.smsBothProviders}**`,
    ],
    ['dead-lettered `exhausted`', 'reported', `${exhausted}`],
    ['dead-lettered although a provider had accepted the send', 'reported', `${o.deadLetteredButSent}`],
  ],
)}

Deliveries (${o.deliveries} rows for ${o.notifications} notifications) by final status: \`${JSON.stringify(o.byStatus)}\`; dead-letter queue ${o.deadLetterQueue} jobs. Sent deliveries by attempts: \`${JSON.stringify(o.attempts)}\`.

Dead letters by kind and reason:

${
  o.deadLetters.length === 0
    ? 'none'
    : markdownTable(
        ['kind', 'reason', 'count'],
        o.deadLetters.map((d) => [d.kind, d.reason, String(d.count)]),
      )
}

Providers (their own logs):

${markdownTable(
  [
    'provider',
    'honours key',
    'requests',
    'accepted sends',
    'replayed',
    'replies dropped',
    'unique keys',
    'duplicate sends',
  ],
  Object.entries(o.providers).map(([name, p]) => [
    name,
    p.honoursKeys ? 'yes' : 'no',
    String(p.requests),
    String(p.accepted),
    String(p.replayed),
    String(p.dropped),
    String(p.uniqueKeys),
    String(p.duplicateSends),
  ]),
)}
`
}
