/**
 * The transactional-outbox relay: moves committed outbox rows to Kafka, in id order, and deletes
 * them once Kafka has acknowledged them (acks = all replicas). A row is deleted only after its send
 * succeeded, so nothing committed is lost; a crash between the send and the delete republishes
 * the batch, which idempotent consumers absorb. Rows of a rolled-back transaction never exist,
 * so they are never published. The feed (posts) and the notification service use it; the table
 * is `<table>(id bigserial, key text, payload jsonb)` in the session's search_path.
 *
 * One relay leads at a time: it holds a session-level advisory lock on its own connection and
 * does all its reads and deletes on that connection. If the connection dies the lock is released
 * with it and the next statement fails, so a relay cannot go on deleting rows after another one
 * took over. Standbys try for the lock every `standbyRetryMs`.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { backoffDelayMs } from '@faultline/resilience'
import type pg from 'pg'

export interface OutboxRow {
  id: string
  key: string
  payload: Record<string, unknown>
}

/** What goes to Kafka: the row's payload with `outboxId` = the row's id. */
export interface OutboxMessage {
  key: string
  value: string
}

export interface RelayLog {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export interface RelayMetricsSink {
  published(count: number): void
  leader(isLeader: boolean): void
  publishFailed(): void
}

export interface OutboxRelayOptions {
  /** Opens the relay's dedicated session (search_path on the system's schema). */
  connect(): Promise<pg.Client>
  /** Sends the messages with acks = -1; resolves once Kafka acknowledged all of them. */
  publish(messages: OutboxMessage[]): Promise<void>
  /** Names the advisory lock: one leader per schema, so relays of different schemas never wait for each other. */
  lockName: string
  /** The outbox table (a plain SQL identifier). @default 'outbox' */
  table?: string
  batchMax: number
  pollMs: number
  /** @default 1000 */
  standbyRetryMs?: number
  /** Backoff of the retries after a Postgres or Kafka failure. @default 100 / 5000 */
  retryBaseMs?: number
  retryCapMs?: number
  metrics?: RelayMetricsSink
  log: RelayLog
}

const noMetrics: RelayMetricsSink = { published() {}, leader() {}, publishFailed() {} }

/** The row's payload as published: the stored JSON plus the row id, for tracing and dedupe logs. */
export function toMessage(row: OutboxRow): OutboxMessage {
  return { key: row.key, value: JSON.stringify({ ...row.payload, outboxId: row.id }) }
}

export class OutboxRelay {
  readonly #o: OutboxRelayOptions
  readonly #metrics: RelayMetricsSink
  #leading = false

  readonly #table: string

  constructor(options: OutboxRelayOptions) {
    const table = options.table ?? 'outbox'
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(table))
      throw new Error(`outbox table name ${JSON.stringify(table)} is not a plain identifier`)
    this.#table = table
    this.#o = options
    this.#metrics = options.metrics ?? noMetrics
  }

  /** True while this relay holds the lock. */
  get leading(): boolean {
    return this.#leading
  }

  /**
   * Runs until `signal` aborts: connect, wait for the lock, relay; on any failure (Postgres gone,
   * the session killed) start over after a backoff. Resolves after the batch in flight is done.
   */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0
    while (!signal.aborted) {
      let client: pg.Client | undefined
      try {
        client = await this.#o.connect()
        // A session dropped while idle emits 'error'; the next statement fails and we start over.
        client.on('error', () => {})
        if (!(await this.#acquire(client, signal))) break
        failures = 0
        this.#setLeading(true)
        this.#o.log.info({ lock: this.#o.lockName }, 'relay is the leader')
        await this.#relay(client, signal)
      } catch (err) {
        if (signal.aborted) break
        const delayMs = backoffDelayMs(failures++, {
          backoff: 'equal-jitter',
          baseMs: this.#o.retryBaseMs ?? 100,
          capMs: this.#o.retryCapMs ?? 5000,
        })
        this.#o.log.warn({ err, retryInMs: Math.round(delayMs) }, 'relay lost Postgres; starting over')
        this.#setLeading(false)
        await client?.end().catch(() => {})
        client = undefined
        await sleepUnlessAborted(delayMs, signal)
      } finally {
        this.#setLeading(false)
        // Ending the session releases the advisory lock: a standby takes over within a second.
        await client?.end().catch(() => {})
      }
    }
  }

  /** Waits for the lock; false when aborted first. */
  async #acquire(client: pg.Client, signal: AbortSignal): Promise<boolean> {
    let logged = false
    while (!signal.aborted) {
      const { rows } = await client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok',
        [this.#o.lockName],
      )
      if (rows[0]?.ok) return true
      if (!logged) this.#o.log.info({ lock: this.#o.lockName }, 'another relay leads; standing by')
      logged = true
      await sleepUnlessAborted(this.#o.standbyRetryMs ?? 1000, signal)
    }
    return false
  }

  /** The leader's loop: read a batch, publish it, delete it; sleep when the outbox is empty. */
  async #relay(client: pg.Client, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const { rows } = await client.query<OutboxRow>(
        // ORDER BY the column, not the text alias: '10' sorts before '8'.
        `SELECT id::text AS id, key, payload FROM ${this.#table} ORDER BY ${this.#table}.id LIMIT $1`,
        [this.#o.batchMax],
      )
      if (rows.length === 0) {
        await sleepUnlessAborted(this.#o.pollMs, signal)
        continue
      }
      if (!(await this.#publishUntilAcked(rows.map(toMessage), signal))) return
      await client.query(`DELETE FROM ${this.#table} WHERE id = ANY($1::bigint[])`, [rows.map((r) => r.id)])
      this.#metrics.published(rows.length)
    }
  }

  /**
   * Sends until Kafka acknowledges (a Kafka outage is waited out, holding the rows); false when
   * shutdown came first, and then the rows stay in the outbox for the next leader.
   */
  async #publishUntilAcked(messages: OutboxMessage[], signal: AbortSignal): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#o.publish(messages)
        return true
      } catch (err) {
        this.#metrics.publishFailed()
        if (signal.aborted) return false
        const delayMs = backoffDelayMs(attempt, {
          backoff: 'equal-jitter',
          baseMs: this.#o.retryBaseMs ?? 100,
          capMs: this.#o.retryCapMs ?? 5000,
        })
        if (attempt === 0 || attempt % 10 === 0) {
          this.#o.log.warn(
            { err, attempt, rows: messages.length, retryInMs: Math.round(delayMs) },
            'publishing the outbox failed; retrying',
          )
        }
        await sleepUnlessAborted(delayMs, signal)
        if (signal.aborted) return false
      }
    }
  }

  #setLeading(leading: boolean): void {
    if (this.#leading === leading) return
    this.#leading = leading
    this.#metrics.leader(leading)
  }
}

/** Sleeps `ms`, or less when `signal` aborts (never rejects). */
async function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => {})
}
