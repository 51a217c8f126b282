/**
 * A checked rules document → the tree a decision walks. Each descriptor level is a map by key,
 * then by value, with the key's value-less node (the wildcard) beside the exact values, so a
 * match costs one or two map lookups per request entry however many rules there are.
 */
import { createHash } from 'node:crypto'
import type { AlgorithmName, LimitRule } from '@faultline/ratelimit'
import type { DescriptorLimit } from '../decision-types.ts'
import {
  type DescriptorSpec,
  defaultAlgorithm,
  defaultFailurePolicy,
  type FailurePolicyName,
  type RulesDocument,
  type Unit,
  unitMs,
} from './schema.ts'

export interface CompiledLimit {
  /**
   * Where the rule sits in its domain (`tenant=acme/path`: `path` without a value is the wildcard),
   * unique in the domain, stable across reloads that keep the rule, and part of every Redis key it counts in.
   */
  id: string
  name?: string
  requestsPerUnit: number
  unit: Unit
  failurePolicy: FailurePolicyName
  /** What the limiter is called with. */
  rule: LimitRule
  /** What a status reports (the decision types' shape, computed once). */
  limit: DescriptorLimit
}

export interface RuleNode {
  limit?: CompiledLimit
  children: Map<string, KeyBranch>
}

export interface KeyBranch {
  exact: Map<string, RuleNode>
  /** The node of the key given without a value: matches any value the exact map lacks. */
  wildcard?: RuleNode
}

export interface DomainSummary {
  domain: string
  /** Descriptors with a rate_limit in this domain. */
  limits: number
}

export interface CompiledRules {
  version: number
  /** sha256 of the document's canonical JSON: same version + other fingerprint = a conflicting edit. */
  fingerprint: string
  domains: Map<string, RuleNode>
  summary: DomainSummary[]
}

export function compileRules(document: RulesDocument): CompiledRules {
  const domains = new Map<string, RuleNode>()
  const summary: DomainSummary[] = []
  for (const { domain, descriptors } of document.domains) {
    const counter = { limits: 0 }
    domains.set(domain, compileLevel(descriptors, '', counter))
    summary.push({ domain, limits: counter.limits })
  }
  return { version: document.version, fingerprint: fingerprintOf(document), domains, summary }
}

function compileLevel(
  specs: readonly DescriptorSpec[],
  parentId: string,
  counter: { limits: number },
): RuleNode {
  const node: RuleNode = { children: new Map() }
  for (const spec of specs) {
    // URI-encoded, so `a=b` as a key and `a` with value `b` stay apart; a wildcard has no `=`.
    const step =
      spec.value === undefined
        ? encodeURIComponent(spec.key)
        : `${encodeURIComponent(spec.key)}=${encodeURIComponent(spec.value)}`
    const id = parentId === '' ? step : `${parentId}/${step}`
    const child = compileLevel(spec.descriptors ?? [], id, counter)
    if (spec.rate_limit) {
      child.limit = compileLimit(spec, id)
      counter.limits += 1
    }
    let branch = node.children.get(spec.key)
    if (!branch) {
      branch = { exact: new Map() }
      node.children.set(spec.key, branch)
    }
    if (spec.value === undefined) branch.wildcard = child
    else branch.exact.set(spec.value, child)
  }
  return node
}

function compileLimit(spec: DescriptorSpec, id: string): CompiledLimit {
  const rateLimit = spec.rate_limit
  if (!rateLimit) throw new TypeError(`descriptor ${id} has no rate_limit`)
  const algorithm: AlgorithmName = rateLimit.algorithm ?? defaultAlgorithm
  const windowMs = unitMs[rateLimit.unit]
  const rule: LimitRule = { algorithm, limit: rateLimit.requests_per_unit, windowMs }
  if (rateLimit.burst !== undefined) rule.burst = rateLimit.burst
  const limit: DescriptorLimit = {
    requestsPerUnit: rateLimit.requests_per_unit,
    unit: rateLimit.unit.toUpperCase() as DescriptorLimit['unit'],
    windowMs,
    algorithm,
  }
  if (rateLimit.name !== undefined) limit.name = rateLimit.name
  return {
    id,
    ...(rateLimit.name !== undefined ? { name: rateLimit.name } : {}),
    requestsPerUnit: rateLimit.requests_per_unit,
    unit: rateLimit.unit,
    failurePolicy: rateLimit.failure_policy ?? defaultFailurePolicy,
    rule,
    limit,
  }
}

/** sha256 of the JSON with object keys sorted, so YAML vs JSON or key order do not count as changes. */
export function fingerprintOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex')
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}
