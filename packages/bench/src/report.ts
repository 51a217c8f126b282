/** Output helpers shared by the knee finder and the benchmark: tables, number formats, files. */
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { repoRoot } from '@faultline/infra'

/** `results/<system>/<kind>/<2026-01-31T12-00-00Z>/`, created. */
export function resultsDir(
  system: string,
  kind: string,
  base = join(repoRoot, 'results'),
  now = new Date(),
): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-')
  const dir = join(base, system, kind, stamp)
  mkdirSync(dir, { recursive: true })
  return dir
}

/** Points `<kind>/latest` at this run's folder (as the lab does for experiments). */
export function linkLatest(dir: string): void {
  const latest = join(dirname(dir), 'latest')
  try {
    rmSync(latest, { force: true })
    symlinkSync(basename(dir), latest)
  } catch {
    // A filesystem without symlinks: `latest` is a convenience only.
  }
}

export function writeJson(path: string, value: unknown): void {
  writeFileSync(
    path,
    `${JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`,
  )
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-'
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`
  if (value >= 10) return `${value.toFixed(1)} ms`
  return `${value.toFixed(2)} ms`
}

export function num(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-'
  return value.toFixed(digits)
}

export function pct(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-'
  return `${(value * 100).toFixed(digits)}%`
}

/** A GitHub-flavoured markdown table. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n')
}

/** The same table aligned in plain text, for the terminal. */
export function textTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ')
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}
