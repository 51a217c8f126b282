import type pg from 'pg'
import type { ClickEvent } from '../clicks/spool.ts'

type Queryable = Pick<pg.Pool, 'query'>

export interface ApplyResult {
  /** Events in the batch. */
  received: number
  /** Events counted now: ids not seen before. */
  counted: number
  /** Events skipped: ids counted by an earlier delivery, or repeated inside this batch. */
  duplicates: number
}

/**
 * One statement does the whole batch: record the event ids, keep the ones that were new, and add
 * their per-code counts. Being one statement it is atomic: a crash before COMMIT leaves neither
 * the ids nor the counts, so the redelivered batch is counted exactly once; after COMMIT, the
 * redelivered ids are all "seen" and count zero. Codes are upserted in sorted order so two
 * workers updating the same codes always lock them in the same order (no deadlock).
 */
const applySql = `
WITH incoming AS (
  SELECT DISTINCT ON (event_id) event_id, code
  FROM unnest($1::uuid[], $2::text[]) AS t(event_id, code)
), fresh AS (
  INSERT INTO click_events_seen (event_id)
  SELECT event_id FROM incoming
  ON CONFLICT (event_id) DO NOTHING
  RETURNING event_id
), counts AS (
  SELECT i.code, count(*) AS n
  FROM incoming i JOIN fresh f ON f.event_id = i.event_id
  GROUP BY i.code
), upserted AS (
  INSERT INTO link_clicks (code, count)
  SELECT code, n FROM counts ORDER BY code
  ON CONFLICT (code) DO UPDATE SET count = link_clicks.count + excluded.count, updated_at = now()
  RETURNING 1
)
SELECT (SELECT coalesce(sum(n), 0) FROM counts) AS counted, (SELECT count(*) FROM upserted) AS codes`

export class ClickRepository {
  readonly #db: Queryable

  constructor(db: Queryable) {
    this.#db = db
  }

  async applyBatch(events: readonly ClickEvent[]): Promise<ApplyResult> {
    if (events.length === 0) return { received: 0, counted: 0, duplicates: 0 }
    const { rows } = await this.#db.query<{ counted: string }>(applySql, [
      events.map((e) => e.eventId),
      events.map((e) => e.code),
    ])
    const counted = Number(rows[0]?.counted ?? 0)
    return { received: events.length, counted, duplicates: events.length - counted }
  }

  /** Forgets event ids older than `retentionMs` (a replay older than that would count twice). */
  async pruneSeen(retentionMs: number, batchSize = 10_000): Promise<number> {
    let total = 0
    for (;;) {
      const { rowCount } = await this.#db.query(
        `DELETE FROM click_events_seen WHERE event_id IN (
           SELECT event_id FROM click_events_seen
           WHERE seen_at < now() - make_interval(secs => $1::double precision / 1000)
           LIMIT $2)`,
        [retentionMs, batchSize],
      )
      total += rowCount ?? 0
      if ((rowCount ?? 0) < batchSize) return total
    }
  }
}
