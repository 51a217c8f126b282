/**
 * The verdict: an experiment reproduces its incident when every `reproduces` invariant fails
 * naive and holds hardened, and every `always` invariant holds in both.
 */
import type { Mode } from '../experiment.ts'
import type { InvariantResult } from '../invariants.ts'

export type RowVerdict =
  | 'reproduced'
  | 'not reproduced: naive held'
  | 'mitigation insufficient'
  | 'inverted'
  | 'holds'
  | 'violated'
  | 'single mode'

export interface VerdictCell {
  holds: boolean
  observed: string | number
}

export interface VerdictRow {
  name: string
  expected: string
  expect: 'reproduces' | 'always'
  naive?: VerdictCell
  hardened?: VerdictCell
  verdict: RowVerdict
  /** Whether this row is what the experiment expects; null when only one mode ran. */
  pass: boolean | null
}

export interface Verdict {
  rows: VerdictRow[]
  /** Every row passes; null when only one mode ran. */
  reproduces: boolean | null
  /** One line: "reproduces: 2/2 invariants fail naive and hold hardened". */
  headline: string
}

function rowVerdict(
  expect: 'reproduces' | 'always',
  naive?: VerdictCell,
  hardened?: VerdictCell,
): RowVerdict {
  if (!naive || !hardened) return 'single mode'
  if (expect === 'always') return naive.holds && hardened.holds ? 'holds' : 'violated'
  if (!naive.holds && hardened.holds) return 'reproduced'
  if (naive.holds && hardened.holds) return 'not reproduced: naive held'
  if (!naive.holds && !hardened.holds) return 'mitigation insufficient'
  return 'inverted'
}

export function computeVerdict(results: Partial<Record<Mode, InvariantResult[]>>): Verdict {
  const names: string[] = []
  const meta = new Map<string, InvariantResult>()
  for (const mode of ['naive', 'hardened'] as const) {
    for (const r of results[mode] ?? []) {
      if (!meta.has(r.name)) {
        names.push(r.name)
        meta.set(r.name, r)
      }
    }
  }
  const cell = (mode: Mode, name: string): VerdictCell | undefined => {
    const r = results[mode]?.find((x) => x.name === name)
    return r ? { holds: r.holds, observed: r.observed } : undefined
  }
  const rows: VerdictRow[] = names.map((name) => {
    const m = meta.get(name) as InvariantResult
    const naive = cell('naive', name)
    const hardened = cell('hardened', name)
    const verdict = rowVerdict(m.expect, naive, hardened)
    const pass = verdict === 'single mode' ? null : verdict === 'reproduced' || verdict === 'holds'
    const row: VerdictRow = { name, expected: m.expected, expect: m.expect, verdict, pass }
    if (naive) row.naive = naive
    if (hardened) row.hardened = hardened
    return row
  })
  const both = results.naive !== undefined && results.hardened !== undefined
  const reproduces = both ? rows.every((r) => r.pass) : null
  const reproducing = rows.filter((r) => r.expect === 'reproduces').length
  const always = rows.length - reproducing
  const failing = rows.filter((r) => r.pass === false)
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
  const headline =
    reproduces === null
      ? `single mode run: ${rows.filter((r) => (r.naive ?? r.hardened)?.holds).length}/${rows.length} invariants hold`
      : reproduces
        ? `REPRODUCED: ${plural(reproducing, 'invariant')} ${reproducing === 1 ? 'fails' : 'fail'} naive and ${reproducing === 1 ? 'holds' : 'hold'} hardened${always ? `; ${plural(always, 'check')} ${always === 1 ? 'holds' : 'hold'} in both` : ''}`
        : `NOT REPRODUCED: ${failing.map((r) => `${r.name} — ${r.verdict}`).join('; ')}`
  return { rows, reproduces, headline }
}

function mark(cell: VerdictCell | undefined): string {
  if (!cell) return '—'
  return `${cell.holds ? '✓' : '✗'} ${cell.observed}`
}

/** Width in terminal columns (the marks are single-width). */
function width(text: string): number {
  return [...text].length
}

function pad(text: string, n: number): string {
  return text + ' '.repeat(Math.max(0, n - width(text)))
}

/** A plain-text table for the terminal. */
export function renderVerdictTable(verdict: Verdict, options: { color?: boolean } = {}): string {
  const header = ['invariant', 'expected', 'naive', 'hardened', 'verdict']
  const body = verdict.rows.map((r) => [r.name, r.expected, mark(r.naive), mark(r.hardened), r.verdict])
  const widths = header.map((h, i) => Math.max(width(h), ...body.map((row) => width(row[i] ?? ''))))
  const color = (text: string, pass: boolean | null) => {
    if (!options.color || pass === null) return text
    return `\x1b[${pass ? 32 : 31}m${text}\x1b[0m`
  }
  const line = (row: string[]) =>
    row
      .map((c, i) => pad(c, widths[i] ?? 0))
      .join('  ')
      .trimEnd()
  const out = [line(header), widths.map((w) => '─'.repeat(w)).join('  ')]
  verdict.rows.forEach((r, i) => {
    out.push(color(line(body[i] ?? []), r.pass))
  })
  out.push('', color(verdict.headline, verdict.reproduces))
  return out.join('\n')
}
