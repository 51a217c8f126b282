/**
 * A rules document ↔ the fields of a Redis hash: one field per domain, named by the domain's
 * position (`000042`) so that reading the hash back gives the domains in their order, hence the
 * same fingerprint. A domain is the unit of a write batch: small enough to pace a large ruleset,
 * whole enough that every field a reader sees is a valid domain on its own.
 */
import type { DomainSpec, RulesDocument } from '../schema.ts'

export type RuleEntry = readonly [field: string, value: string]

const fieldWidth = 6

export function toEntries(document: RulesDocument): RuleEntry[] {
  return document.domains.map((domain, i) => [String(i).padStart(fieldWidth, '0'), JSON.stringify(domain)])
}

/** The domains of a hash read with HGETALL, in their order. Throws on a field that is not JSON. */
export function fromHash(hash: Record<string, string>): DomainSpec[] {
  return Object.keys(hash)
    .sort()
    .map((field) => JSON.parse(hash[field] as string) as DomainSpec)
}
