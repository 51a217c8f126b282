/**
 * The failure-mode catalog (`postmortems.md`): one table row per incident. Experiments name
 * their row by id and the lab fills in the incident and mechanism from it.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { CatalogRow } from './experiment.ts'

/** Where the catalog is looked for: `$FAULTLINE_CATALOG`, `docs/postmortems.md`, then `../shared/postmortems.md`. */
export function catalogCandidates(repoRoot: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = []
  if (env.FAULTLINE_CATALOG) out.push(resolve(env.FAULTLINE_CATALOG))
  out.push(join(repoRoot, 'docs', 'postmortems.md'), resolve(repoRoot, '..', 'shared', 'postmortems.md'))
  return out
}

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((c) => c.trim())
}

/** Parse the markdown table: the header row names the columns (ID, Incident, Mechanism, …). */
export function parseCatalog(markdown: string): CatalogRow[] {
  const lines = markdown.split('\n')
  const headerIndex = lines.findIndex((l) => /^\|\s*ID\s*\|/i.test(l.trim()))
  if (headerIndex === -1) return []
  const header = cells(lines[headerIndex] as string).map((h) => h.toLowerCase())
  const col = (prefix: string) => header.findIndex((h) => h.startsWith(prefix))
  const idx = {
    id: col('id'),
    incident: col('incident'),
    mechanism: col('mechanism'),
    systems: col('sys'),
    fault: col('fault'),
    invariant: col('invariant'),
    mitigation: col('mitigation'),
  }
  const rows: CatalogRow[] = []
  for (const line of lines.slice(headerIndex + 2)) {
    if (!line.trim().startsWith('|')) break
    const c = cells(line)
    const get = (i: number) => (i >= 0 ? (c[i] ?? '') : '')
    const id = get(idx.id)
    if (!/^pm\d+$/.test(id)) continue
    rows.push({
      id,
      incident: get(idx.incident),
      mechanism: get(idx.mechanism),
      systems: get(idx.systems),
      fault: get(idx.fault),
      invariant: get(idx.invariant),
      mitigation: get(idx.mitigation),
    })
  }
  return rows
}

/** The catalog row for an id, with the experiment's own fields taking precedence. */
export function catalogRow(
  id: string,
  own: Partial<Omit<CatalogRow, 'id'>> | undefined,
  repoRoot: string,
): { row: CatalogRow | null; source: string | null } {
  let found: CatalogRow | undefined
  let source: string | null = null
  for (const file of catalogCandidates(repoRoot)) {
    if (!existsSync(file)) continue
    found = parseCatalog(readFileSync(file, 'utf8')).find((r) => r.id === id)
    if (found) {
      source = file
      break
    }
  }
  if (!found && !own) return { row: null, source: null }
  const row: CatalogRow = { id, incident: '', mechanism: '', ...found, ...own }
  return { row, source: own && !found ? 'experiment module' : source }
}
