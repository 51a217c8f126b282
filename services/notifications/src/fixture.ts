/**
 * The notification service's state as experiments see it (docs/lab.md §4): an experiment runs the
 * service in a world of its own — a Postgres schema, a cache Redis key prefix, a BullMQ queue
 * prefix, a Kafka topic and a router group — and reads what its invariants need through this
 * class, never through the service's tables or keys directly.
 *
 *   const world = new NotificationsFixture({ name: 'pm17' })
 *   services: { …, env: world.env }
 *   await world.reset(ctx)                       // before the services start
 *   await world.balance(ctx.pg)                  // accepted deliveries by status
 *
 * Functions take plain clients (`{ pg, redis, queueRedis }`), so the lab's context or a test's
 * clients both work.
 */
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { NotificationKeys } from './keys.ts'
import { type DeliveryStatus, deliveryStatuses, terminalStatuses } from './types.ts'

export interface FixtureClients {
  pg: Pick<pg.Pool, 'query'>
  redis?: Pick<Redis, 'scan' | 'unlink'>
  queueRedis?: Pick<Redis, 'scan' | 'unlink'>
}

export interface WorldOptions {
  /** Names the schema (`lab_<name>`), the key and queue prefixes, the topic and the group. */
  name: string
}

/** Deliveries of the world by status, and how they add up (the service's balance). */
export interface Balance {
  notifications: number
  /** Notifications that have no delivery row yet (not routed). */
  unrouted: number
  deliveries: number
  byStatus: Record<DeliveryStatus, number>
  /** sent + dead_lettered + expired + suppressed. */
  terminal: number
  /** Deliveries in no terminal state (queued, held, sending, failed). */
  open: number
}

export interface StaleSends {
  /** Deliveries whose send completed (sent_at) at or after their notification's expiresAt. */
  count: number
  /** Of them, those completed more than `graceS` after it. */
  beyondGrace: number
  /** The latest of them: how late (seconds past expiresAt). */
  worstLateS: number
}

export class NotificationsFixture {
  readonly name: string
  readonly schema: string
  readonly keys: NotificationKeys
  readonly queuePrefix: string
  readonly topic: string
  readonly routerGroupId: string

  constructor(o: WorldOptions) {
    if (!/^[a-z][a-z0-9_]{0,40}$/.test(o.name)) throw new TypeError(`bad world name "${o.name}"`)
    this.name = o.name
    this.schema = `lab_${o.name}`
    this.keys = new NotificationKeys(`lab-${o.name}`)
    this.queuePrefix = `lab-${o.name}-q`
    this.topic = `lab-${o.name}-notifications`
    this.routerGroupId = `lab-${o.name}-router`
  }

  /** Env of every process of the system: this world's schema, prefixes, topic and group. */
  get env(): Record<string, string> {
    return {
      DB_SCHEMA: this.schema,
      REDIS_KEY_PREFIX: this.keys.prefix,
      QUEUE_PREFIX: this.queuePrefix,
      NOTIFICATIONS_TOPIC: this.topic,
      ROUTER_GROUP_ID: this.routerGroupId,
    }
  }

  /**
   * Before the services start: drops the world's schema (the services' migrations recreate it),
   * its cache keys (idempotency markers, rate limits) and its BullMQ queues. Events an earlier
   * run left in Kafka are the caller's (the lab's `ctx.kafka.moveGroupToEnd(routerGroupId, topic)`).
   */
  async reset(c: FixtureClients): Promise<{ keys: number; jobsKeys: number }> {
    await c.pg.query(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`)
    const keys = c.redis
      ? (await unlinkMatching(c.redis, `${this.keys.prefix}:*`)) +
        (await unlinkMatching(c.redis, `${this.keys.rateLimitPrefix}*`))
      : 0
    const jobsKeys = c.queueRedis ? await unlinkMatching(c.queueRedis, `${this.queuePrefix}:*`) : 0
    return { keys, jobsKeys }
  }

  /** Deliveries by status; 0s before the schema exists. */
  async balance(pgc: FixtureClients['pg']): Promise<Balance> {
    if (!(await this.#schemaReady(pgc))) {
      const byStatus = Object.fromEntries(deliveryStatuses.map((s) => [s, 0])) as Record<
        DeliveryStatus,
        number
      >
      return { notifications: 0, unrouted: 0, deliveries: 0, byStatus, terminal: 0, open: 0 }
    }
    const s = this.schema
    const counts = await pgc.query<{ status: DeliveryStatus; n: string }>(
      `SELECT status, count(*) AS n FROM ${s}.deliveries GROUP BY status`,
    )
    const byStatus = Object.fromEntries(deliveryStatuses.map((st) => [st, 0])) as Record<
      DeliveryStatus,
      number
    >
    for (const r of counts.rows) byStatus[r.status] = Number(r.n)
    const n = await pgc.query<{ notifications: string; unrouted: string }>(
      `SELECT count(*) AS notifications,
              count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM ${s}.deliveries d WHERE d.notification_id = n.id)) AS unrouted
         FROM ${s}.notifications n`,
    )
    const deliveries = Object.values(byStatus).reduce((a, b) => a + b, 0)
    const terminal = terminalStatuses.reduce((a, st) => a + byStatus[st], 0)
    return {
      notifications: Number(n.rows[0]?.notifications ?? 0),
      unrouted: Number(n.rows[0]?.unrouted ?? 0),
      deliveries,
      byStatus,
      terminal,
      open: deliveries - terminal,
    }
  }

  /**
   * Deliveries sent past their notification's TTL. `sent_at` is written when the provider's 2xx
   * came back, so a send that began just before expiresAt ends just after it: `graceS` says how
   * long a send in flight may take before it counts as started late.
   */
  async staleSends(pgc: FixtureClients['pg'], graceS = 0): Promise<StaleSends> {
    if (!(await this.#schemaReady(pgc))) return { count: 0, beyondGrace: 0, worstLateS: 0 }
    const r = await pgc.query<{ n: string; beyond: string; worst: string | null }>(
      `SELECT count(*) AS n,
              count(*) FILTER (WHERE d.sent_at > n.expires_at + make_interval(secs => $1)) AS beyond,
              max(extract(epoch FROM d.sent_at - n.expires_at)) AS worst
         FROM ${this.schema}.deliveries d JOIN ${this.schema}.notifications n ON n.id = d.notification_id
        WHERE d.sent_at IS NOT NULL AND d.sent_at >= n.expires_at`,
      [graceS],
    )
    const row = r.rows[0]
    return {
      count: Number(row?.n ?? 0),
      beyondGrace: Number(row?.beyond ?? 0),
      worstLateS: Number(row?.worst ?? 0),
    }
  }

  /** Outbox rows not yet published by the relay. */
  async outboxBacklog(pgc: FixtureClients['pg']): Promise<number> {
    if (!(await this.#schemaReady(pgc))) return 0
    const r = await pgc.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.schema}.outbox`)
    return Number(r.rows[0]?.n ?? 0)
  }

  /** The notification's expiresAt (ms), by id: to compare a provider log's `at` with. */
  async expiries(pgc: FixtureClients['pg']): Promise<Map<string, number>> {
    if (!(await this.#schemaReady(pgc))) return new Map()
    const r = await pgc.query<{ id: string; expires_at: Date }>(
      `SELECT id, expires_at FROM ${this.schema}.notifications`,
    )
    return new Map(r.rows.map((row) => [row.id, row.expires_at.getTime()]))
  }

  /**
   * Deliveries claimed by more than one job run (a retry, or a job run again after its worker
   * stalled: pm15), and those the service recorded as sent more than once (naive repeats).
   */
  async rerun(pgc: FixtureClients['pg']): Promise<{ claimedAgain: number; sentAgain: number }> {
    if (!(await this.#schemaReady(pgc))) return { claimedAgain: 0, sentAgain: 0 }
    const r = await pgc.query<{ claimed: string; sent: string }>(
      `SELECT count(*) FILTER (WHERE attempts > 1) AS claimed, count(*) FILTER (WHERE sends > 1) AS sent
         FROM ${this.schema}.deliveries`,
    )
    return { claimedAgain: Number(r.rows[0]?.claimed ?? 0), sentAgain: Number(r.rows[0]?.sent ?? 0) }
  }

  async #schemaReady(pgc: FixtureClients['pg']): Promise<boolean> {
    const r = await pgc.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [
      `${this.schema}.deliveries`,
    ])
    return r.rows[0]?.ok === true
  }
}

async function unlinkMatching(redis: Pick<Redis, 'scan' | 'unlink'>, pattern: string): Promise<number> {
  let cursor = '0'
  let removed = 0
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) removed += await redis.unlink(...keys)
  } while (cursor !== '0')
  return removed
}

/** The fixture of the default world (schema `notifications`) is not offered: experiments isolate. */
export const fixture = { world: (name: string) => new NotificationsFixture({ name }) }
