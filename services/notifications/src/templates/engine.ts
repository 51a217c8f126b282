/**
 * The Liquid engines (liquidjs) every template is parsed and rendered with, configured once:
 * - strictVariables: a variable the data lacks is an error naming it (the API answers 422
 *   `body.data.<name>`), never a silently empty greeting; lenientIf keeps `{% if x %}` and
 *   `| default:` usable for variables that are optional on purpose.
 * - strictFilters: a misspelt filter is a parse error at PUT time, not an unfiltered value at send.
 * - printable outputs only: `{{ x }}` of a null, an object or an array is an
 *   `UnprintableValueError` (422 `body.data.x` at accept), never "Your code is ." or
 *   "[object Object]" in a recipient's message. What is checked is the value that reaches the
 *   output, after its filters: `| default:` still turns a null into a fallback.
 * - ownPropertyOnly: data is the caller's JSON; a template cannot read `constructor`,
 *   `__proto__` or any inherited property of it.
 * - no file system: `templates: {}` gives liquidjs an empty in-memory file map, and the tags that
 *   read other templates (include, render, layout) are replaced by tags that refuse at parse time,
 *   so a template can neither read a file nor pass validation while naming one.
 * - parseLimit, renderLimit and memoryLimit bound what a hostile template can cost (a
 *   `{% for %}` over a huge range fails instead of pinning a worker).
 * Two engines: `html` escapes every output (liquidjs' `escape`; `| raw` opts out, a template
 * author's explicit choice), `plain` does not (SMS, push, webhook and email text are not HTML).
 * Parsed templates are cached by source: the router and workers render the same few sources for
 * every message, and parsing costs more than rendering.
 */
import { filters, Liquid, type Template as LiquidTemplate } from 'liquidjs'

export type EngineKind = 'html' | 'plain'

/** Longest template source accepted (characters). */
export const maxTemplateSourceChars = 20_000
/** Most parsed templates kept per engine; beyond it the oldest is dropped. */
const parseCacheMax = 1000

const refusedTags = ['include', 'render', 'layout'] as const

/** A `{{ }}` output whose value is not a string, number or boolean (liquidjs wraps it in its RenderError). */
export class UnprintableValueError extends Error {
  /** `null`, `object` or `array`. */
  readonly kind: 'null' | 'object' | 'array'
  constructor(kind: 'null' | 'object' | 'array') {
    super(
      `is ${kind === 'null' ? 'null' : `an ${kind}`}; an output prints only a string, a number or a boolean`,
    )
    this.name = 'UnprintableValueError'
    this.kind = kind
  }
}

function assertPrintable(value: unknown): void {
  if (value === null || value === undefined) throw new UnprintableValueError('null')
  if (Array.isArray(value)) throw new UnprintableValueError('array')
  if (typeof value === 'object') throw new UnprintableValueError('object')
}

// liquidjs calls the output escape as the last filter of every `{{ }}` (`this` is the filter's
// context, which its own `escape` filter needs for the memory limit).
const escapeFilter = filters.escape as (this: unknown, value: unknown) => string
function printablePlain(value: unknown): string {
  assertPrintable(value)
  return String(value)
}
function printableEscaped(this: unknown, value: unknown): string {
  assertPrintable(value)
  return escapeFilter.call(this, value)
}

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
    outputEscape: kind === 'html' ? printableEscaped : printablePlain,
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
