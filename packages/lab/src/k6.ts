/**
 * k6 as the lab's load generator: the runner itself is @faultline/measure's (one runner for the
 * lab and the bench, imported from there); what is the lab's own is turning each streamed request
 * into a ledger entry.
 */
import { type K6Point, systemTags } from '@faultline/measure'
import type { LedgerEntry } from './ledger.ts'

const droppedTags = new Set([
  ...systemTags,
  'url',
  'proto',
  'subproto',
  'tls_version',
  'check',
  'error',
  'service',
])

/** A k6 point as a ledger entry, with times relative to the load start. */
export function toLedgerEntry(point: K6Point, loadStartEpochMs: number): LedgerEntry {
  const { tags } = point
  const status = Number(tags.status ?? 0) || 0
  const endMs = point.timeMs - loadStartEpochMs
  const own: Record<string, string> = {}
  for (const [k, v] of Object.entries(tags)) if (!droppedTags.has(k)) own[k] = v
  const entry: LedgerEntry = {
    endMs,
    startMs: endMs - point.latencyMs,
    latencyMs: point.latencyMs,
    status,
    ok:
      tags.expected_response === undefined
        ? status >= 200 && status < 400
        : tags.expected_response === 'true',
    op: tags.op ?? tags.name ?? '',
    scenario: tags.scenario ?? '',
    method: tags.method ?? '',
    tags: own,
  }
  if (tags.error_code) entry.errorCode = Number(tags.error_code)
  return entry
}
