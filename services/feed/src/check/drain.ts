/**
 * "The fan-out has drained": the outbox is empty (the relay published every committed change) and
 * the fan-out consumer group has committed every message of the posts topic (lag 0). Checked in
 * that order — once the outbox is empty, every event is in Kafka, so a lag of 0 read afterwards
 * covers all of them — and on consecutive polls, so a batch between two reads is not missed.
 */
import type { Admin } from 'kafkajs'
import { type Queryable, tablesIn } from '../fixture/db.ts'

export interface OutboxBacklog {
  rows: number
  /** Age of the oldest unpublished row; null when there is none. */
  oldestAgeMs: number | null
}

export async function outboxBacklog(pg: Queryable, schema: string): Promise<OutboxBacklog> {
  const { rows } = await pg.query<{ n: number; age_ms: number | null }>(
    `SELECT count(*)::int AS n,
            (extract(epoch FROM clock_timestamp() - min(created_at)) * 1000)::float8 AS age_ms
       FROM ${tablesIn(schema).outbox}`,
  )
  return { rows: rows[0]?.n ?? 0, oldestAgeMs: rows[0]?.age_ms ?? null }
}

/** What reads a consumer group's lag (the lab's `ctx.kafka` is one; `groupLag` makes one from kafkajs). */
export interface LagSource {
  lag(groupId: string, topic: string): Promise<number>
}

/** Lag from a connected kafkajs admin: per partition, end offset − committed (from the start when none). */
export function groupLag(admin: Pick<Admin, 'listTopics' | 'fetchTopicOffsets' | 'fetchOffsets'>): LagSource {
  return {
    async lag(groupId, topic) {
      // No topic yet: nothing was ever published, so nothing is behind.
      if (!(await admin.listTopics()).includes(topic)) return 0
      const [ends, [entry]] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId, topics: [topic] }),
      ])
      const committed = new Map((entry?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]))
      return ends.reduce((sum, p) => {
        const done = committed.get(p.partition) ?? -1
        const from = done >= 0 ? done : Number(p.low)
        return sum + Math.max(0, Number(p.high) - from)
      }, 0)
    },
  }
}

export interface DrainOptions {
  pg: Queryable
  schema: string
  kafka: LagSource
  groupId: string
  topic: string
  /** Give up after this long (default 120 s). */
  timeoutMs?: number
  /** Between polls (default 250 ms). */
  pollMs?: number
  /** Consecutive drained polls required (default 2). */
  stablePolls?: number
  /** Hears each poll that was not drained yet. */
  onWait?: (state: { outbox: number; lag: number }) => void
}

/** Resolves once drained; throws after `timeoutMs` with the last backlog seen. */
export async function waitForDrain(o: DrainOptions): Promise<void> {
  const deadline = Date.now() + (o.timeoutMs ?? 120_000)
  let drainedPolls = 0
  for (;;) {
    const outbox = (await outboxBacklog(o.pg, o.schema)).rows
    const lag = outbox === 0 ? await o.kafka.lag(o.groupId, o.topic) : Number.NaN
    if (outbox === 0 && lag === 0) {
      if (++drainedPolls >= (o.stablePolls ?? 2)) return
    } else {
      drainedPolls = 0
      o.onWait?.({ outbox, lag })
      if (Date.now() > deadline) {
        throw new Error(`not drained after ${o.timeoutMs ?? 120_000} ms: outbox ${outbox} rows, lag ${lag}`)
      }
    }
    await new Promise((r) => setTimeout(r, o.pollMs ?? 250))
  }
}
