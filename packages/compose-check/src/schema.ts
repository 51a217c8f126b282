/**
 * Validation against the Compose Specification JSON schema, the same file Docker Compose
 * itself embeds (compose-go's `schema/compose-spec.json`, vendored here unmodified; where it
 * came from is in `schema/SOURCE.md`). The schema declares draft 2020-12, hence Ajv2020.
 */
import { readFileSync } from 'node:fs'
import type { ErrorObject, ValidateFunction } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'

export const composeSchemaFile = new URL('../schema/compose-spec.json', import.meta.url)

let compiled: ValidateFunction | undefined

function validator(): ValidateFunction {
  if (compiled) return compiled
  const schema = JSON.parse(readFileSync(composeSchemaFile, 'utf8')) as Record<string, unknown>
  // allErrors: report every problem in one run, like the rule checks do.
  // strictSchema stays on (an unknown keyword in the schema is an error), but Ajv's extra
  // lints of schema *style* (strictTypes, strictTuples, strictRequired) are not JSON Schema
  // rules and the upstream file does not follow them; it is vendored unmodified.
  // The schema uses no `format` keyword (compose-go registers only `duration`, and nothing
  // references it), so no format plugin is needed; with validateFormats on, a future format
  // the schema starts using fails compilation instead of being skipped.
  const ajv = new Ajv2020({
    allErrors: true,
    strictSchema: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    validateFormats: true,
  })
  compiled = ajv.compile(schema)
  return compiled
}

function describe(error: ErrorObject): string {
  const at = error.instancePath === '' ? '(root)' : error.instancePath
  const property = error.params.additionalProperty ?? error.params.unevaluatedProperty
  const params = property === undefined ? '' : ` '${String(property)}'`
  return `schema: ${at} ${error.message ?? error.keyword}${params}`
}

/** Every way `doc` breaks the Compose Specification schema, as readable lines; empty when valid. */
export function validateComposeSchema(doc: unknown): string[] {
  const validate = validator()
  if (validate(doc)) return []
  const errors = validate.errors ?? []
  // When any keyword fails inside an object, Ajv stops tracking which of its properties were
  // evaluated and reports every one of them as unevaluated too. Those lines are noise beside
  // the real error; a genuine unknown key still shows once the real error is fixed.
  const failedInside = (path: string) =>
    errors.some((e) => e.keyword !== 'unevaluatedProperties' && e.instancePath.startsWith(`${path}/`))
  const relevant = errors.filter(
    (e) => e.keyword !== 'unevaluatedProperties' || !failedInside(e.instancePath),
  )
  return [...new Set(relevant.map(describe))]
}
