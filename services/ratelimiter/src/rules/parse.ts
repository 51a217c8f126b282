/**
 * Rules text → checked, compiled ruleset, or every reason it cannot be one. YAML or JSON, chosen
 * by the file's extension or the request's content type; YAML through the `yaml` package with
 * duplicate keys refused (a duplicate key would silently drop one of two limits) and aliases
 * bounded (a "billion laughs" file must not exhaust the process).
 */
import { extname } from 'node:path'
import { LineCounter, parseDocument } from 'yaml'
import { type CompiledRules, compileRules } from './compile.ts'
import { type RulesDocument, validateRules } from './schema.ts'

export type RulesFormat = 'yaml' | 'json'

export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: string[] }

export interface LoadedRules {
  document: RulesDocument
  ruleset: CompiledRules
}

/** The format of a rules file by its extension (`.yaml`, `.yml`, `.json`), or undefined. */
export function formatOfPath(path: string): RulesFormat | undefined {
  const ext = extname(path).toLowerCase()
  if (ext === '.yaml' || ext === '.yml') return 'yaml'
  if (ext === '.json') return 'json'
  return undefined
}

/** Parses text in `format` into a plain value; syntax errors carry their line and column. */
export function parseRulesText(text: string, format: RulesFormat): Parsed<unknown> {
  if (format === 'json') {
    try {
      return { ok: true, value: JSON.parse(text) }
    } catch (err) {
      return { ok: false, problems: [`(json): ${(err as Error).message}`] }
    }
  }
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter })
  const errors = [...doc.errors, ...doc.warnings.filter((warning) => warning.code === 'DUPLICATE_KEY')]
  if (errors.length > 0) {
    return {
      ok: false,
      problems: errors.map((error) => {
        const at = lineCounter.linePos(error.pos[0])
        const where = at.line > 0 ? `line ${at.line}, column ${at.col}` : 'yaml'
        return `(${where}): ${error.message.split('\n')[0]}`
      }),
    }
  }
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) }
  } catch (err) {
    return { ok: false, problems: [`(yaml): ${(err as Error).message}`] }
  }
}

/** Validates a parsed value and compiles it. */
export function loadRulesValue(value: unknown): Parsed<LoadedRules> {
  const checked = validateRules(value)
  if (!checked.ok) return checked
  return { ok: true, value: { document: checked.document, ruleset: compileRules(checked.document) } }
}

/** Parses, validates and compiles rules text. */
export function loadRulesText(text: string, format: RulesFormat): Parsed<LoadedRules> {
  const parsed = parseRulesText(text, format)
  if (!parsed.ok) return parsed
  return loadRulesValue(parsed.value)
}
