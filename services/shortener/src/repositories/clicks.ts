import { withPgClient } from '@faultline/kit/clients'
import type pg from 'pg'
import { type ClickBatch, planCounts } from '../clicks/batch.ts'

export interface ApplyResult {
  /** Events in the batches. */
  received: number
  /** Events counted now: above their recorder's watermark. */
  counted: number
  /** Events skipped: counted by an earlier delivery (a replay, a retried publish). */
  duplicates: number
}

/**
 * Locks the watermark row of every recorder in the batches (created at -1 when new), in sorted
 * order, and returns the watermarks. The upsert's DO UPDATE takes the row lock, so a second
 * worker applying the same recorder's batches (during a rebalance) waits here and then reads
 * the watermark the first one committed.
 */
const lockWatermarksSql = `
INSERT INTO click_producers (producer)
SELECT p FROM unnest($1::uuid[]) AS p ORDER BY p
ON CONFLICT (producer) DO UPDATE SET updated_at = now()
RETURNING producer::text AS producer, applied_seq::text AS applied_seq`

/** Adds the counts (codes in sorted order: two workers never deadlock) and moves the watermarks. */
const writeSql = `
WITH counts AS (
  SELECT code, n FROM unnest($1::text[], $2::bigint[]) AS t(code, n)
), upserted AS (
  INSERT INTO link_clicks (code, count)
  SELECT code, n FROM counts ORDER BY code
  ON CONFLICT (code) DO UPDATE SET count = link_clicks.count + excluded.count, updated_at = now()
  RETURNING 1
)
UPDATE click_producers AS p SET applied_seq = w.seq, updated_at = now()
FROM unnest($3::uuid[], $4::bigint[]) AS w(producer, seq)
WHERE p.producer = w.producer AND w.seq > p.applied_seq`

export class ClickRepository {
  readonly #pool: Pick<pg.Pool, 'connect' | 'query'>

  constructor(pool: Pick<pg.Pool, 'connect' | 'query'>) {
    this.#pool = pool
  }

  /**
   * Applies click batches (see clicks/batch.ts) in one transaction: lock the recorders'
   * watermarks, count only the events above them, add the counts, move the watermarks. A crash
   * before COMMIT leaves nothing, so the redelivered batches count exactly once; after COMMIT,
   * their events are all at or below the watermarks and count zero.
   */
  async applyBatches(batches: readonly ClickBatch[]): Promise<ApplyResult> {
    const received = batches.reduce((n, b) => n + b.codes.length, 0)
    if (received === 0) return { received: 0, counted: 0, duplicates: 0 }
    const producers = [...new Set(batches.map((b) => b.producer))].sort()
    // A failure anywhere destroys the connection (withPgClient), which aborts the transaction.
    return withPgClient(this.#pool, async (client) => {
      await client.query('BEGIN')
      const { rows } = await client.query<{ producer: string; applied_seq: string }>(lockWatermarksSql, [
        producers,
      ])
      const applied = new Map(rows.map((r) => [r.producer, Number(r.applied_seq)]))
      const plan = planCounts(batches, applied)
      await client.query(writeSql, [
        [...plan.counts.keys()],
        [...plan.counts.values()],
        [...plan.watermarks.keys()],
        [...plan.watermarks.values()],
      ])
      await client.query('COMMIT')
      return { received, counted: plan.counted, duplicates: plan.duplicates }
    })
  }

  /**
   * Forgets the watermarks of recorders not heard from for `retentionMs` (a process start's
   * recorder stops at its exit). A replay of such a recorder's events would count them again.
   */
  async pruneWatermarks(retentionMs: number): Promise<number> {
    const { rowCount } = await this.#pool.query(
      `DELETE FROM click_producers WHERE updated_at < now() - make_interval(secs => $1::double precision / 1000)`,
      [retentionMs],
    )
    return rowCount ?? 0
  }
}
