/**
 * The rules store against real Redis and the real Redis Cluster (pm07's mechanism): two appliers
 * interleaved deterministically (one held between two write batches, as a paused process is), and
 * what a reader finds at each step. In place (naive) the applied version goes backwards and is
 * empty mid-apply; with generations and the compare-and-set commit (hardened) it never is.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isEmpty, type RulesStore, type StoredRules } from '../src/rules/store/types.ts'
import {
  apply,
  clusterRedis,
  fingerprint,
  gate,
  limitsOf,
  ruleset,
  singleRedis,
  stores,
} from './rules-store-support.ts'

async function read(store: RulesStore): Promise<StoredRules> {
  const got = await store.read()
  assert.notEqual(got, 'unchanged')
  return got as StoredRules
}

test('generations: a newer version is applied; an older one is superseded and leaves no key behind', async (t) => {
  const { redis, keys } = await singleRedis(t)
  const { generations } = stores(redis, keys)
  assert.deepEqual(await apply(generations, ruleset(2)), {
    result: 'applied',
    version: 2,
    previousVersion: 0,
  })
  assert.deepEqual(await apply(generations, ruleset(5)), {
    result: 'applied',
    version: 5,
    previousVersion: 2,
  })
  assert.deepEqual(await apply(generations, ruleset(3)), {
    result: 'superseded',
    version: 3,
    currentVersion: 5,
  })
  const stored = await read(generations)
  assert.equal(stored.version, 5)
  assert.deepEqual(limitsOf(stored.domains), [50])
  assert.equal(stored.fingerprint, fingerprint(ruleset(5)))
  // The current generation never expires; the one the pointer left does, after the retention.
  assert.equal(await redis.pttl(keys.generation(5)), -1)
  const oldTtlMs = await redis.pttl(keys.generation(2))
  assert.ok(oldTtlMs > 0 && oldTtlMs <= 60_000, `gen:2 pttl ${oldTtlMs}`)
  assert.deepEqual(await redis.keys(`${keys.prefix}*staging*`), [])
})

test('generations: the same version again is unchanged with the same content and a conflict with other content', async (t) => {
  const { redis, keys } = await singleRedis(t)
  const { generations } = stores(redis, keys)
  await apply(generations, ruleset(4))
  assert.deepEqual(await apply(generations, ruleset(4)), { result: 'unchanged', version: 4 })
  assert.deepEqual(await apply(generations, ruleset(4, 8, 999)), {
    result: 'conflict',
    version: 4,
    currentVersion: 4,
  })
  assert.deepEqual(limitsOf((await read(generations)).domains), [40])
  assert.equal(
    await generations.read(4),
    'unchanged',
    'a reader holding the pointed version reads nothing more',
  )
})

test('in place (naive), one applier paused mid-apply: readers find it empty, then the applied version goes backwards', async (t) => {
  const { redis, keys } = await singleRedis(t)
  const { inPlace } = stores(redis, keys)
  await apply(inPlace, ruleset(1))
  const held = gate(1)
  const stale = apply(inPlace, ruleset(2), held.hooks) // applier A, paused after its first batch
  await held.reached
  const midApply = await read(inPlace)
  assert.equal(midApply.version, 0, 'the version is deleted until the apply ends')
  assert.equal(midApply.domains.length, 2, 'one batch of 2 of 8 domains written')
  assert.ok(isEmpty(midApply))

  assert.equal((await apply(inPlace, ruleset(3))).result, 'applied') // applier B, newer
  assert.equal((await read(inPlace)).version, 3)

  held.release() // A resumes and finishes its older ruleset over the newer one
  assert.deepEqual(await stale, { result: 'applied', version: 2, previousVersion: 1 })
  const after = await read(inPlace)
  assert.equal(after.version, 2, 'backwards: 3 was applied, 2 is')
  assert.deepEqual(limitsOf(after.domains), [20, 30], 'and the content is a mix of both rulesets')
})

test('generations (hardened), the same interleaving: superseded; readers only ever find complete, newer rulesets', async (t) => {
  const { redis, keys } = await singleRedis(t)
  const { generations } = stores(redis, keys)
  await apply(generations, ruleset(1))
  const held = gate(1)
  const stale = apply(generations, ruleset(2), held.hooks)
  await held.reached
  const midApply = await read(generations)
  assert.equal(midApply.version, 1)
  assert.deepEqual(limitsOf(midApply.domains), [10])
  assert.equal(midApply.domains.length, 8)

  assert.equal((await apply(generations, ruleset(3))).result, 'applied')
  held.release()
  assert.deepEqual(await stale, { result: 'superseded', version: 2, currentVersion: 3 })
  const after = await read(generations)
  assert.equal(after.version, 3)
  assert.deepEqual(limitsOf(after.domains), [30])
  assert.equal(after.domains.length, 8)
  assert.deepEqual(await redis.keys(`${keys.prefix}*staging*`), [], 'the superseded staging is deleted')
})

test('generations: a staging that expired while its applier was paused is refused as incomplete', async (t) => {
  const { redis, keys } = await singleRedis(t)
  const { generations } = stores(redis, keys)
  await apply(generations, ruleset(1))
  const held = gate(2)
  const late = apply(generations, ruleset(2), held.hooks)
  await held.reached
  const staged = await redis.keys(`${keys.prefix}*staging*`)
  assert.equal(staged.length, 1)
  const ttlMs = await redis.pttl(staged[0] as string)
  assert.ok(ttlMs > 0 && ttlMs <= 60_000, `staging pttl ${ttlMs}`)
  await redis.del(staged[0] as string) // what its expiry does to a ruleset whose applier stopped
  held.release()
  assert.deepEqual(await late, { result: 'incomplete', version: 2, currentVersion: 1 })
  assert.equal((await read(generations)).version, 1)
})

test('two appliers pushing versions concurrently: with generations a polling reader never sees empty or older', async (t) => {
  const { redis, keys } = await singleRedis(t)
  const { generations } = stores(redis, keys)
  const seen: StoredRules[] = []
  let appliersDone = false
  let readerFailed: unknown
  const reader = (async () => {
    while (!appliersDone) seen.push(await read(generations))
  })()
  reader.catch((error: unknown) => {
    readerFailed = error ?? new Error('the reader failed')
  })
  // A pushes the even versions, B the odd ones, each in a random order: older pushes race newer ones.
  const shuffled = (versions: number[]) => versions.sort(() => Math.random() - 0.5)
  // After each push an applier waits for two more reads, so reads interleave with the pushes
  // however the client batches commands (a turn of the event loop was not always enough: one CI
  // run read only 10 times). Each applier's waits are in sequence: ≥ 12 reads in all.
  const push = async (versions: number[]) => {
    for (const v of versions) {
      await apply(generations, ruleset(v))
      const readsBefore = seen.length
      while (seen.length < readsBefore + 2) {
        if (readerFailed !== undefined) throw readerFailed
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
  }
  await Promise.all([push(shuffled([2, 4, 6, 8, 10, 12])), push(shuffled([1, 3, 5, 7, 9, 11]))])
  appliersDone = true
  await reader
  assert.ok(seen.length >= 12, `the reader read ${seen.length} times`)
  // Before the first commit there is nothing to read; after it, never again an empty or partial ruleset.
  const firstApplied = seen.findIndex((s) => s.version > 0)
  assert.ok(firstApplied >= 0)
  const afterFirst = seen.slice(firstApplied)
  assert.ok(
    afterFirst.every((s) => !isEmpty(s) && s.domains.length === 8 && limitsOf(s.domains).length === 1),
  )
  const versions = afterFirst.map((s) => s.version)
  for (let i = 1; i < versions.length; i++) {
    assert.ok(
      (versions[i] as number) >= (versions[i - 1] as number),
      `backwards at read ${i}: ${versions.join(',')}`,
    )
  }
  assert.equal((await read(generations)).version, 12)
})

test('Redis Cluster: both layouts run unchanged (one hash slot); the compare-and-set and the naive regression alike', async (t) => {
  const { redis, keys } = await clusterRedis(t)
  const { inPlace, generations } = stores(redis, keys)
  for (const store of [inPlace, generations]) {
    await apply(store, ruleset(1))
    const held = gate(1)
    const stale = apply(store, ruleset(2), held.hooks)
    await held.reached
    await apply(store, ruleset(3))
    held.release()
    const result = (await stale).result
    const version = (await read(store)).version
    if (store === generations) assert.deepEqual([result, version], ['superseded', 3])
    else assert.deepEqual([result, version], ['applied', 2])
  }
})
