/**
 * The consistency check: for every user (or those of a handle prefix), the home timeline read
 * through the API — every page — against the one Postgres implies (expected.ts), counted by kind
 * (compare.ts). Run it after the fan-out has drained (drain.ts) and while nothing writes: it reads
 * Postgres and the API at slightly different moments.
 */
import { inParallel } from '@faultline/resilience'
import { wholeTimeline } from '../fixture/api.ts'
import { type Queryable, startsWith, tablesIn } from '../fixture/db.ts'
import {
  addDiff,
  compareTimeline,
  emptyDiff,
  idsToLookUp,
  type TimelineComparison,
  type TimelineDiff,
} from './compare.ts'
import { expectedTimelines, postFacts } from './expected.ts'

export interface CheckOptions {
  pg: Queryable
  schema: string
  /** API base URLs; users are spread over them. */
  baseUrls: readonly string[]
  /** Only users whose handle starts with this (default: every user). */
  handlePrefix?: string
  /** TIMELINE_CAP of the instances. */
  cap: number
  /** Timelines read at once (default 8). */
  concurrency?: number
  /** Users per Postgres batch (default 200). */
  batchSize?: number
  /** Hears the running totals after each batch. */
  onBatch?: (report: CheckReport) => void
}

export interface CheckReport extends TimelineDiff {
  users: number
  /** Items the expected timelines hold (the denominator of `missing`). */
  expectedItems: number
  /** Items the API served (the denominator of the other kinds). */
  servedItems: number
  /** 206 answers waited through (timelines that were being rebuilt). */
  rebuilding: number
  /** The first users with a difference, with a few ids of each kind. */
  failures: Array<{ userId: string } & TimelineComparison>
}

async function userBatch(o: CheckOptions, afterId: string, limit: number): Promise<string[]> {
  const t = tablesIn(o.schema)
  const { rows } = await o.pg.query<{ id: string }>(
    // Ordered by the column, not the text output (which would sort '10' before '9').
    `SELECT u.id::text AS id FROM ${t.users} u WHERE u.id > $1 AND ($2::text IS NULL OR u.handle LIKE $2)
      ORDER BY u.id LIMIT $3`,
    [afterId, o.handlePrefix === undefined ? null : startsWith(o.handlePrefix), limit],
  )
  return rows.map((r) => r.id)
}

async function checkBatch(o: CheckOptions, userIds: string[], report: CheckReport): Promise<void> {
  const expected = await expectedTimelines(o.pg, o.schema, userIds, { cap: o.cap })
  const served = await inParallel(userIds.length, o.concurrency ?? 8, (i) =>
    wholeTimeline(o.baseUrls[i % o.baseUrls.length] as string, userIds[i] as string),
  )
  const observed = served.map((s) => s.items.map((p) => p.id))
  const unknown = new Set<string>()
  userIds.forEach((id, i) => {
    const e = expected.get(id)
    if (e) for (const x of idsToLookUp(observed[i] ?? [], e)) unknown.add(x)
  })
  const facts = await postFacts(o.pg, o.schema, [...unknown])
  userIds.forEach((userId, i) => {
    const e = expected.get(userId)
    // A user deleted meanwhile (a reset) has nothing to compare.
    if (!e) return
    const diff = compareTimeline(observed[i] ?? [], e, facts)
    addDiff(report, diff)
    report.users++
    report.expectedItems += e.ids.length
    report.servedItems += observed[i]?.length ?? 0
    report.rebuilding += served[i]?.rebuilding ?? 0
    if (diff.missing + diff.duplicated + diff.outOfOrder + diff.deletedVisible + diff.extra > 0) {
      if (report.failures.length < 10) report.failures.push({ userId, ...diff })
    }
  })
}

export async function checkTimelines(o: CheckOptions): Promise<CheckReport> {
  if (o.baseUrls.length === 0) throw new TypeError('checkTimelines needs at least one API base URL')
  const report: CheckReport = {
    ...emptyDiff(),
    users: 0,
    expectedItems: 0,
    servedItems: 0,
    rebuilding: 0,
    failures: [],
  }
  let afterId = '0'
  for (;;) {
    const userIds = await userBatch(o, afterId, o.batchSize ?? 200)
    if (userIds.length === 0) return report
    await checkBatch(o, userIds, report)
    afterId = userIds[userIds.length - 1] as string
    o.onBatch?.(report)
  }
}
