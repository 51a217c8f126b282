/**
 * The rules file's shape and its validation. The shape is envoyproxy/ratelimit's configuration
 * (domains → descriptors → nested descriptors, keys in snake_case as Envoy's are, so a team that
 * knows that format reads this one), with a few additions: a top-level `version` (the generation a
 * reload compares), and per limit an `algorithm`, a `burst` and a `failure_policy`.
 *
 * Validation never stops at the first problem: an operator fixing a file wants every mistake in
 * one answer, each with its path (`domains[0].descriptors[2].rate_limit.unit: must be one of …`).
 */
import { type AlgorithmName, algorithmNames, RateLimitInputError, validateRule } from '@faultline/ratelimit'

export const units = ['second', 'minute', 'hour', 'day'] as const
export type Unit = (typeof units)[number]

export const unitMs: Record<Unit, number> = {
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
}

export const failurePolicies = ['open', 'closed', 'local'] as const
export type FailurePolicyName = (typeof failurePolicies)[number]

/** The exact algorithm is the default: the others are there to be chosen on purpose. */
export const defaultAlgorithm: AlgorithmName = 'sliding-log'
export const defaultFailurePolicy: FailurePolicyName = 'open'

/** Bounds that keep one ruleset's memory and one decision's work small. */
export const limits = {
  /** Nesting depth of descriptors, equal to the most entries a request's descriptor may have. */
  maxDepth: 8,
  maxDomains: 1000,
  /** Descriptor nodes over the whole file. */
  maxNodes: 100_000,
  maxKeyLength: 256,
  maxValueLength: 1024,
  maxNameLength: 128,
} as const

export interface RateLimitSpec {
  requests_per_unit: number
  unit: Unit
  algorithm?: AlgorithmName
  /** Token bucket and GCRA: the most that may pass at once (default: requests_per_unit). */
  burst?: number
  failure_policy?: FailurePolicyName
  name?: string
}

export interface DescriptorSpec {
  key: string
  /** Absent: the node matches every value of `key`, each value counted on its own (Envoy's wildcard). */
  value?: string
  rate_limit?: RateLimitSpec
  descriptors?: DescriptorSpec[]
}

export interface DomainSpec {
  domain: string
  descriptors: DescriptorSpec[]
}

export interface RulesDocument {
  /** The generation: a positive integer that grows with every change. */
  version: number
  domains: DomainSpec[]
}

export type ValidationResult = { ok: true; document: RulesDocument } | { ok: false; problems: string[] }

type Obj = Record<string, unknown>

class Problems {
  readonly list: string[] = []
  nodes = 0
  /** Records a problem; returns false, so a check can `return problems.add(…)`. */
  add(path: string, reason: string): false {
    this.list.push(`${path}: ${reason}`)
    return false
  }
}

const isObject = (value: unknown): value is Obj =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const oneOf = (values: readonly string[]) => `must be one of ${values.join(', ')}`

function unknownFields(value: Obj, allowed: readonly string[], path: string, problems: Problems): void {
  for (const field of Object.keys(value)) {
    if (!allowed.includes(field))
      problems.add(join(path, field), `is not a field here (expected ${allowed.join(', ')})`)
  }
}

const join = (path: string, field: string) => (path === '' ? field : `${path}.${field}`)

function checkString(value: unknown, path: string, maxLength: number, problems: Problems): boolean {
  if (typeof value !== 'string') problems.add(path, 'must be a string')
  else if (value.length === 0) problems.add(path, 'must not be empty')
  else if (value.length > maxLength) problems.add(path, `must be at most ${maxLength} characters`)
  else return true
  return false
}

function checkPositiveInteger(value: unknown, path: string, problems: Problems): boolean {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    problems.add(path, 'must be a positive integer')
    return false
  }
  return true
}

/** Checks an untrusted value (parsed YAML or JSON) against the rules shape; every problem is listed. */
export function validateRules(input: unknown): ValidationResult {
  const problems = new Problems()
  if (!isObject(input)) return { ok: false, problems: ['(root): must be an object with version and domains'] }
  unknownFields(input, ['version', 'domains'], '', problems)
  if (input.version === undefined) problems.add('version', 'is required')
  else checkPositiveInteger(input.version, 'version', problems)
  checkDomains(input.domains, problems)
  if (problems.nodes > limits.maxNodes) {
    problems.add('domains', `must hold at most ${limits.maxNodes} descriptors in all (has ${problems.nodes})`)
  }
  if (problems.list.length > 0) return { ok: false, problems: problems.list }
  return { ok: true, document: input as unknown as RulesDocument }
}

function checkDomains(domains: unknown, problems: Problems): boolean {
  if (domains === undefined) return problems.add('domains', 'is required')
  if (!Array.isArray(domains)) return problems.add('domains', 'must be a list')
  // An empty ruleset is refused: applied by mistake, it would silently lift every limit.
  if (domains.length === 0) return problems.add('domains', 'must not be empty')
  if (domains.length > limits.maxDomains)
    problems.add('domains', `must have at most ${limits.maxDomains} entries`)
  const seen = new Map<string, number>()
  for (const [i, domain] of domains.entries()) {
    const path = `domains[${i}]`
    if (!isObject(domain)) {
      problems.add(path, 'must be an object with domain and descriptors')
      continue
    }
    unknownFields(domain, ['domain', 'descriptors'], path, problems)
    if (checkString(domain.domain, `${path}.domain`, limits.maxNameLength, problems)) {
      const name = domain.domain as string
      const first = seen.get(name)
      if (first !== undefined)
        problems.add(`${path}.domain`, `"${name}" is already defined by domains[${first}]`)
      else seen.set(name, i)
    }
    const descriptors = domain.descriptors
    if (descriptors === undefined) problems.add(`${path}.descriptors`, 'is required')
    else if (Array.isArray(descriptors) && descriptors.length === 0) {
      problems.add(`${path}.descriptors`, 'must not be empty')
    } else checkDescriptors(descriptors, `${path}.descriptors`, 1, problems)
  }
  return true
}

function checkDescriptors(list: unknown, path: string, depth: number, problems: Problems): boolean {
  if (!Array.isArray(list)) return problems.add(path, 'must be a list')
  if (depth > limits.maxDepth) return problems.add(path, `nests deeper than ${limits.maxDepth} levels`)
  const siblings = new Map<string, number>()
  for (const [i, descriptor] of list.entries()) {
    const at = `${path}[${i}]`
    problems.nodes += 1
    if (!isObject(descriptor)) {
      problems.add(at, 'must be an object with key and rate_limit or descriptors')
      continue
    }
    unknownFields(descriptor, ['key', 'value', 'rate_limit', 'descriptors'], at, problems)
    const keyOk = checkString(descriptor.key, `${at}.key`, limits.maxKeyLength, problems)
    const valueOk =
      descriptor.value === undefined ||
      checkString(descriptor.value, `${at}.value`, limits.maxValueLength, problems)
    if (keyOk && valueOk) {
      const value = descriptor.value as string | undefined
      const id = JSON.stringify([descriptor.key, value ?? null])
      const first = siblings.get(id)
      const shown =
        value === undefined ? `key "${descriptor.key}" without a value` : `"${descriptor.key}=${value}"`
      if (first !== undefined) problems.add(at, `${shown} is already defined by ${path}[${first}]`)
      else siblings.set(id, i)
    }
    if (descriptor.rate_limit === undefined && descriptor.descriptors === undefined) {
      problems.add(at, 'needs rate_limit or descriptors (it would match nothing)')
    }
    if (descriptor.rate_limit !== undefined)
      checkRateLimit(descriptor.rate_limit, `${at}.rate_limit`, problems)
    if (descriptor.descriptors !== undefined) {
      checkDescriptors(descriptor.descriptors, `${at}.descriptors`, depth + 1, problems)
    }
  }
  return true
}

const rateLimitFields = ['requests_per_unit', 'unit', 'algorithm', 'burst', 'failure_policy', 'name'] as const

function checkRateLimit(spec: unknown, path: string, problems: Problems): boolean {
  if (!isObject(spec)) return problems.add(path, 'must be an object with requests_per_unit and unit')
  const before = problems.list.length
  unknownFields(spec, rateLimitFields, path, problems)
  if (spec.requests_per_unit === undefined) problems.add(`${path}.requests_per_unit`, 'is required')
  else checkPositiveInteger(spec.requests_per_unit, `${path}.requests_per_unit`, problems)
  if (spec.unit === undefined) problems.add(`${path}.unit`, 'is required')
  else if (!units.includes(spec.unit as Unit)) problems.add(`${path}.unit`, oneOf(units))
  const algorithm = spec.algorithm ?? defaultAlgorithm
  if (!algorithmNames.includes(algorithm as AlgorithmName))
    problems.add(`${path}.algorithm`, oneOf(algorithmNames))
  if (spec.burst !== undefined && checkPositiveInteger(spec.burst, `${path}.burst`, problems)) {
    if (algorithm !== 'token-bucket' && algorithm !== 'gcra') {
      problems.add(`${path}.burst`, `applies to token-bucket and gcra only, not ${String(algorithm)}`)
    }
  }
  if (
    spec.failure_policy !== undefined &&
    !failurePolicies.includes(spec.failure_policy as FailurePolicyName)
  ) {
    problems.add(`${path}.failure_policy`, oneOf(failurePolicies))
  }
  if (spec.name !== undefined) checkString(spec.name, `${path}.name`, limits.maxNameLength, problems)
  if (problems.list.length === before) checkWithLimiter(spec as unknown as RateLimitSpec, path, problems)
  return problems.list.length === before
}

/** The limiter's own bounds on a rule (a sliding log holds at most 10 000), so a reload fails, not each decision. */
const limiterFieldOf: Record<string, string> = {
  'rule.limit': 'requests_per_unit',
  'rule.windowMs': 'unit',
  'rule.algorithm': 'algorithm',
  'rule.burst': 'burst',
}

function checkWithLimiter(spec: RateLimitSpec, path: string, problems: Problems): void {
  const algorithm = spec.algorithm ?? defaultAlgorithm
  try {
    validateRule({
      algorithm,
      limit: spec.requests_per_unit,
      windowMs: unitMs[spec.unit],
      ...(spec.burst === undefined ? {} : { burst: spec.burst }),
    })
  } catch (err) {
    if (!(err instanceof RateLimitInputError)) throw err
    const field = limiterFieldOf[err.field] ?? err.field
    problems.add(`${path}.${field}`, err.message.slice(err.field.length + 1))
  }
}
