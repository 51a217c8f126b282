/**
 * The clicks topic's wire format, and the rule that makes counting idempotent.
 *
 * A publish is ONE Kafka message holding a run of one recorder's events: consecutive sequence
 * numbers `firstSeq … firstSeq + n - 1`, keyed by the recorder's id so all of its messages land
 * on one partition, in the order they were sent. The worker keeps, per recorder, the highest
 * sequence number it has counted (its watermark, table click_producers); an event at or below
 * it is a replay and counts zero. That covers every way an event reaches the worker twice: a
 * producer retry after a lost ack (the retry may even carry more events than the first try: the
 * overlap is skipped, the rest counted), a crash between the Postgres commit and the offset
 * commit, a rebalance, a durable spool re-sending after `kill -9`.
 *
 * Why not an id per event: remembering every id is a row per click (≈ 115 B of table and index,
 * 80 GB held at the assumed peak) and most of the pipeline's CPU; a watermark is a row per
 * process start. What it relies on: one recorder's messages are applied in the order it sent
 * them, which holds because one recorder publishes one run at a time, always the oldest first,
 * and Kafka keeps the order of a key within its partition.
 */
import type { ClickEvent } from './spool.ts'

export interface ClickBatch {
  producer: string
  /** Sequence number of `codes[0]`; `codes[i]` has `firstSeq + i`. */
  firstSeq: number
  codes: string[]
  /** Epoch milliseconds of each click. */
  ts: number[]
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const possibleCode = /^[A-Za-z0-9_-]{1,32}$/
/** Far above CLICK_BATCH_MAX's ceiling; a message claiming more is not ours. */
const maxEventsPerMessage = 1_000_000

/**
 * How many of `events` (oldest first) go in one message: the leading run from one recorder with
 * consecutive numbers. After a restart on a durable spool the previous process's events come
 * first, under their own recorder id; a gap (events dropped when a send failed with `clickSpool`
 * off) also starts a new message.
 */
export function leadingRunLength(events: readonly ClickEvent[]): number {
  const first = events[0]
  if (!first) return 0
  let n = 1
  while (n < events.length) {
    const e = events[n] as ClickEvent
    if (e.producer !== first.producer || e.seq !== first.seq + n) break
    n++
  }
  return n
}

/** A run (see leadingRunLength) as its message. */
export function toClickBatch(run: readonly ClickEvent[]): ClickBatch {
  const first = run[0]
  if (!first || leadingRunLength(run) !== run.length) {
    throw new RangeError('a click batch is a non-empty run of one recorder with consecutive numbers')
  }
  return {
    producer: first.producer,
    firstSeq: first.seq,
    codes: run.map((e) => e.code),
    ts: run.map((e) => e.ts),
  }
}

/** The Kafka message: keyed by recorder; timestamps as offsets from the first (shorter). */
export function encodeClickBatch(batch: ClickBatch): { key: string; value: string } {
  const t0 = batch.ts[0] ?? 0
  return {
    key: batch.producer,
    value: JSON.stringify({
      producer: batch.producer,
      firstSeq: batch.firstSeq,
      t0,
      codes: batch.codes,
      dt: batch.ts.map((t) => t - t0),
    }),
  }
}

/** A message value as a batch, or undefined when it is not one (the worker skips and counts it). */
export function parseClickBatch(value: Buffer | null): ClickBatch | undefined {
  if (!value) return undefined
  let v: { producer?: unknown; firstSeq?: unknown; t0?: unknown; codes?: unknown; dt?: unknown }
  try {
    v = JSON.parse(value.toString('utf8'))
  } catch {
    return undefined
  }
  if (typeof v !== 'object' || v === null) return undefined
  const { producer, firstSeq, t0, codes, dt } = v
  if (typeof producer !== 'string' || !uuidPattern.test(producer)) return undefined
  if (typeof firstSeq !== 'number' || !Number.isSafeInteger(firstSeq) || firstSeq < 0) return undefined
  if (typeof t0 !== 'number' || !Number.isFinite(t0)) return undefined
  if (!Array.isArray(codes) || codes.length === 0 || codes.length > maxEventsPerMessage) return undefined
  if (!Array.isArray(dt) || dt.length !== codes.length) return undefined
  if (!Number.isSafeInteger(firstSeq + codes.length)) return undefined
  for (const code of codes) if (typeof code !== 'string' || !possibleCode.test(code)) return undefined
  for (const d of dt) if (typeof d !== 'number' || !Number.isFinite(d)) return undefined
  return { producer, firstSeq, codes, ts: dt.map((d: number) => t0 + d) }
}

export interface CountPlan {
  /** Clicks to add per code. */
  counts: Map<string, number>
  /** Each recorder's watermark after these batches (only recorders that moved). */
  watermarks: Map<string, number>
  counted: number
  duplicates: number
}

/**
 * What applying `batches` (in the order they were read) adds, given each recorder's watermark
 * (`-1` or absent: nothing counted yet). Pure: the repository locks the watermarks, asks this,
 * and writes the result in the same transaction.
 */
export function planCounts(batches: readonly ClickBatch[], applied: ReadonlyMap<string, number>): CountPlan {
  const counts = new Map<string, number>()
  const watermarks = new Map<string, number>()
  let counted = 0
  let duplicates = 0
  for (const batch of batches) {
    const mark = watermarks.get(batch.producer) ?? applied.get(batch.producer) ?? -1
    const skip = Math.min(batch.codes.length, Math.max(0, mark - batch.firstSeq + 1))
    duplicates += skip
    for (let i = skip; i < batch.codes.length; i++) {
      const code = batch.codes[i] as string
      counts.set(code, (counts.get(code) ?? 0) + 1)
    }
    counted += batch.codes.length - skip
    const last = batch.firstSeq + batch.codes.length - 1
    if (last > mark) watermarks.set(batch.producer, last)
  }
  return { counts, watermarks, counted, duplicates }
}
