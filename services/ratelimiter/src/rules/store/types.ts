/**
 * What a rules store does, whichever layout it writes: apply a ruleset (as one of several
 * appliers) and read the applied one (as one of several readers). in-place-store.ts is the naive
 * layout, generation-store.ts the hardened one; the `rulesCompareAndSet` switch picks.
 */
import type { Cluster, Redis } from 'ioredis'
import type { DomainSpec, RulesDocument } from '../schema.ts'

/** A single Redis or a Redis Cluster: every key of the store shares one hash slot. */
export type RedisClient = Redis | Cluster

export type StoreLayout = 'in-place' | 'generations'

/**
 * How a ruleset is written: `batch` domains per command, `pauseMs` between commands. A push of a
 * thousand domains in one HSET is one multi-megabyte command during which single-threaded Redis
 * answers no decision; paced, every decision waits behind at most one small batch.
 */
export interface ApplyPacing {
  batch: number
  pauseMs: number
}

export interface ApplyHooks {
  /**
   * Awaited before each batch is written (index from 0): the service counts progress with it, and a
   * test holds an applier between two batches to interleave appliers deterministically.
   */
  beforeBatch?(index: number, batches: number): void | Promise<void>
}

export type ApplyResult =
  /** The ruleset is the applied one; `previousVersion` 0 = nothing was applied. */
  | { result: 'applied'; version: number; previousVersion: number }
  /** This version with this content was already applied: nothing written. */
  | { result: 'unchanged'; version: number }
  /** Refused: a newer version is applied (`currentVersion`). Generations only. */
  | { result: 'superseded'; version: number; currentVersion: number }
  /** Refused: this version is applied with other content. Generations only. */
  | { result: 'conflict'; version: number; currentVersion: number }
  /** Refused: the staged ruleset expired before the commit (an applier paused for minutes). */
  | { result: 'incomplete'; version: number; currentVersion: number }

/** The applied ruleset as a reader finds it. `version` 0 and no domains: nothing (or nothing yet) applied. */
export interface StoredRules {
  layout: StoreLayout
  version: number
  /** The generations layout records it with the pointer; the in-place layout has none. */
  fingerprint?: string
  domains: DomainSpec[]
}

export interface RulesStore {
  readonly layout: StoreLayout
  /** Writes `document` (its `version` is the generation) as the applied ruleset, or says why not. */
  apply(document: RulesDocument, fingerprint: string, hooks?: ApplyHooks): Promise<ApplyResult>
  /**
   * The applied ruleset. With `knownVersion` (what the reader holds), a generations store skips
   * reading the ruleset when the pointer still names that version and returns `unchanged`.
   */
  read(knownVersion?: number): Promise<StoredRules | 'unchanged'>
}

/** An applied ruleset counts as empty when it has no version or no domain (pm07's "never empty"). */
export function isEmpty(rules: StoredRules): boolean {
  return rules.version === 0 || rules.domains.length === 0
}
