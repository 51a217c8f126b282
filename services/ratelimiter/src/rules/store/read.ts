import { GenerationRulesStore } from './generation-store.ts'
import { InPlaceRulesStore } from './in-place-store.ts'
import type { RulesStoreKeys } from './keys.ts'
import type { RedisClient, StoredRules, StoreLayout } from './types.ts'

/** Reading only: no apply goes through these stores, so their pacing and retention never apply. */
const unused = { pacing: { batch: 1, pauseMs: 0 }, retentionMs: 1, stagingTtlMs: 1 }

/**
 * The applied ruleset in Redis as a reader of `layout` finds it now — what the fixture gives an
 * experiment (pm07 samples its version) without the experiment knowing a key.
 */
export async function readStoredRules(
  redis: RedisClient,
  keys: RulesStoreKeys,
  layout: StoreLayout,
): Promise<StoredRules> {
  if (layout === 'in-place') return new InPlaceRulesStore(redis, keys, unused.pacing).read()
  return (await new GenerationRulesStore(redis, keys, unused).read()) as StoredRules
}
