/**
 * The naive rules store (`rulesCompareAndSet` off): one ruleset, rewritten in place by whoever
 * applies, unconditionally. An apply deletes the applied ruleset and its version, writes the new
 * ruleset in paced batches, then sets the version — so for the length of an apply a reader finds
 * no version and a partial ruleset (pm07's "empty"), and an applier paused between two batches
 * that resumes after another applier applied a newer version finishes writing its older ruleset
 * over the newer one and sets its older version: the applied version goes backwards (AWS
 * DynamoDB, 2025-10-19: a delayed DNS plan applier overwrote a newer plan).
 */

import type { RulesDocument } from '../schema.ts'
import { fromHash, toEntries } from './entries.ts'
import type { RulesStoreKeys } from './keys.ts'
import { writeInBatches } from './pacing.ts'
import type { ApplyHooks, ApplyPacing, ApplyResult, RedisClient, RulesStore, StoredRules } from './types.ts'

export class InPlaceRulesStore implements RulesStore {
  readonly layout = 'in-place' as const
  readonly #redis: RedisClient
  readonly #keys: RulesStoreKeys
  readonly #pacing: ApplyPacing

  constructor(redis: RedisClient, keys: RulesStoreKeys, pacing: ApplyPacing) {
    this.#redis = redis
    this.#keys = keys
    this.#pacing = pacing
  }

  async apply(document: RulesDocument, _fingerprint: string, hooks: ApplyHooks = {}): Promise<ApplyResult> {
    const previous = Number((await this.#redis.get(this.#keys.version())) ?? 0)
    await this.#redis.del(this.#keys.applied(), this.#keys.version())
    await writeInBatches(this.#redis, this.#keys.applied(), toEntries(document), this.#pacing, hooks)
    await this.#redis.set(this.#keys.version(), String(document.version))
    return { result: 'applied', version: document.version, previousVersion: previous }
  }

  async read(): Promise<StoredRules> {
    // One MULTI: the version and the ruleset of the same instant (which may be mid-apply).
    const replies = await this.#redis.multi().get(this.#keys.version()).hgetall(this.#keys.applied()).exec()
    if (!replies) throw new Error('rules read: MULTI aborted')
    for (const [err] of replies) if (err) throw err
    const version = Number((replies[0]?.[1] as string | null) ?? 0)
    const domains = fromHash((replies[1]?.[1] as Record<string, string>) ?? {})
    return { layout: this.layout, version, domains }
  }
}
