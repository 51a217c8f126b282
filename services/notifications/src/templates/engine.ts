/**
 * The Liquid engines (liquidjs) every template is parsed and rendered with, configured once:
 * - strictVariables: a variable the data lacks is an error naming it (the API answers 422
 *   `body.data.<name>`), never a silently empty greeting; lenientIf keeps `{% if x %}` and
 *   `| default:` usable for variables that are optional on purpose.
 * - strictFilters: a misspelt filter is a parse error at PUT time, not an unfiltered value at send.
 * - ownPropertyOnly: data is the caller's JSON; a template cannot read `constructor`,
 *   `__proto__` or any inherited property of it.
 * - no file system: `templates: {}` gives liquidjs an empty in-memory file map, and the tags that
 *   read other templates (include, render, layout) are replaced by tags that refuse at parse time,
 *   so a template can neither read a file nor pass validation while naming one.
 * - parseLimit, renderLimit and memoryLimit bound what a hostile template can cost (a
 *   `{% for %}` over a huge range fails instead of pinning a worker).
 * Two engines: `html` escapes every output (outputEscape 'escape'; `| raw` opts out, a template
 * author's explicit choice), `plain` does not (SMS, push, webhook and email text are not HTML).
 * Parsed templates are cached by source: the router and workers render the same few sources for
 * every message, and parsing costs more than rendering.
 */
import { Liquid, type Template as LiquidTemplate } from 'liquidjs'

export type EngineKind = 'html' | 'plain'

/** Longest template source accepted (characters). */
export const maxTemplateSourceChars = 20_000
/** Most parsed templates kept per engine; beyond it the oldest is dropped. */
const parseCacheMax = 1000

const refusedTags = ['include', 'render', 'layout'] as const

function newEngine(kind: EngineKind): Liquid {
  const engine = new Liquid({
    strictVariables: true,
    strictFilters: true,
    lenientIf: true,
    ownPropertyOnly: true,
    templates: {},
    dynamicPartials: false,
    parseLimit: maxTemplateSourceChars,
    renderLimit: 1000,
    memoryLimit: 10_000_000,
    ...(kind === 'html' ? { outputEscape: 'escape' as const } : {}),
  })
  for (const name of refusedTags) {
    engine.registerTag(name, {
      parse() {
        throw new Error(`the ${name} tag is not available: a template is self-contained`)
      },
      render() {
        return ''
      },
    })
  }
  return engine
}

const engines: Record<EngineKind, Liquid> = { html: newEngine('html'), plain: newEngine('plain') }
const parsed: Record<EngineKind, Map<string, LiquidTemplate[]>> = { html: new Map(), plain: new Map() }

/** The parsed source (cached); throws liquidjs' TokenizationError/ParseError on a bad source. */
export function parseSource(kind: EngineKind, source: string): LiquidTemplate[] {
  const cache = parsed[kind]
  const hit = cache.get(source)
  if (hit) return hit
  const templates = engines[kind].parse(source)
  if (cache.size >= parseCacheMax) {
    const oldest = cache.keys().next().value
    if (oldest !== undefined) cache.delete(oldest)
  }
  cache.set(source, templates)
  return templates
}

/** Renders a source with data; throws liquidjs' errors (see render.ts for their meaning). */
export function renderSource(kind: EngineKind, source: string, data: Record<string, unknown>): string {
  return String(engines[kind].renderSync(parseSource(kind, source), data))
}
