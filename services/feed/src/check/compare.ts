/**
 * Compares a timeline as served (ids in the order a reader saw them) with the one Postgres implies,
 * and counts each kind of wrong the issue names: missing, duplicated, out of order, deleted but
 * visible — plus `extra`, a post that does not belong at all (an unfollowed author's, say).
 */
import type { ExpectedTimeline, PostFacts } from './expected.ts'

export interface TimelineDiff {
  /** Expected ids (the newest `cap`) not served. */
  missing: number
  /** Served more than once (each repeat counts). */
  duplicated: number
  /** Adjacent pairs served oldest first (the order is newest first). */
  outOfOrder: number
  /** Deleted posts served. */
  deletedVisible: number
  /** Served posts that are not the user's nor a followee's (or do not exist). */
  extra: number
}

export type DiffKind = keyof TimelineDiff
export const diffKinds: readonly DiffKind[] = [
  'missing',
  'duplicated',
  'outOfOrder',
  'deletedVisible',
  'extra',
]

export interface TimelineComparison extends TimelineDiff {
  /** A few ids of each non-zero kind, for a report. */
  examples: Partial<Record<DiffKind, string[]>>
}

export function emptyDiff(): TimelineDiff {
  return { missing: 0, duplicated: 0, outOfOrder: 0, deletedVisible: 0, extra: 0 }
}

export function addDiff(into: TimelineDiff, d: TimelineDiff): TimelineDiff {
  for (const k of diffKinds) into[k] += d[k]
  return into
}

export function diffTotal(d: TimelineDiff): number {
  return diffKinds.reduce((sum, k) => sum + d[k], 0)
}

/** Served ids that are not among the expected ones: their facts must be looked up. */
export function idsToLookUp(observed: readonly string[], expected: ExpectedTimeline): string[] {
  const known = new Set(expected.ids)
  return [...new Set(observed.filter((id) => !known.has(id)))]
}

/**
 * `facts` must hold every id of `idsToLookUp(observed, expected)` that exists in Postgres. An
 * eligible post older than the expected window (a read-time merge can serve more than `cap`) is
 * neither missing nor extra.
 */
export function compareTimeline(
  observed: readonly string[],
  expected: ExpectedTimeline,
  facts: ReadonlyMap<string, PostFacts>,
): TimelineComparison {
  const diff: TimelineComparison = { ...emptyDiff(), examples: {} }
  const note = (kind: DiffKind, id: string) => {
    diff[kind]++
    const list = diff.examples[kind] ?? []
    if (list.length < 5) diff.examples[kind] = [...list, id]
  }
  const seen = new Set<string>()
  const expectedIds = new Set(expected.ids)
  for (const [i, id] of observed.entries()) {
    const next = observed[i + 1]
    if (next !== undefined && Number(next) > Number(id)) note('outOfOrder', next)
    if (seen.has(id)) {
      note('duplicated', id)
      continue
    }
    seen.add(id)
    if (expectedIds.has(id)) continue
    const fact = facts.get(id)
    if (fact?.deleted) note('deletedVisible', id)
    else if (fact === undefined || !expected.authors.has(fact.authorId)) note('extra', id)
  }
  for (const id of expected.ids) if (!seen.has(id)) note('missing', id)
  return diff
}
