/**
 * The hardened rules store (`rulesCompareAndSet` on): every version is written to a key of its
 * own and a pointer names the applied one. An apply stages the ruleset under
 * `staging:<version>:<token>` in paced batches (readers never look there), then one Lua script
 * (lua/commit-generation-3.lua) renames it to `gen:<version>` and moves the pointer only if the
 * version is newer than the applied one — a compare-and-set on the generation. A reader reads
 * the pointer, then that generation: always a complete ruleset, never an older one than the
 * pointer named before. A superseded applier's staging is deleted by the script; the generation
 * the pointer left expires after `retentionMs`, long enough for a reader that read the old
 * pointer to finish reading it.
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { RulesDocument } from '../schema.ts'
import { fromHash, toEntries } from './entries.ts'
import type { RulesStoreKeys } from './keys.ts'
import { writeInBatches } from './pacing.ts'
import type { ApplyHooks, ApplyPacing, ApplyResult, RedisClient, RulesStore, StoredRules } from './types.ts'

const commitLua = readFileSync(new URL('./lua/commit-generation-3.lua', import.meta.url), 'utf8')

type CommitReply = [code: number, version: number]
type WithCommit = RedisClient & {
  rulesCommitGeneration(
    pointer: string,
    staging: string,
    generation: string,
    ...args: string[]
  ): Promise<CommitReply>
}

export interface GenerationStoreOptions {
  pacing: ApplyPacing
  /** How long a generation the pointer left stays readable. */
  retentionMs: number
  /** A staging key whose applier never commits (it died) expires after this. */
  stagingTtlMs: number
}

export class GenerationRulesStore implements RulesStore {
  readonly layout = 'generations' as const
  readonly #redis: WithCommit
  readonly #keys: RulesStoreKeys
  readonly #options: GenerationStoreOptions

  constructor(redis: RedisClient, keys: RulesStoreKeys, options: GenerationStoreOptions) {
    const client = redis as WithCommit
    // defineCommand loads the script once per connection and calls it by SHA (EVALSHA, EVAL on NOSCRIPT).
    if (typeof client.rulesCommitGeneration !== 'function') {
      redis.defineCommand('rulesCommitGeneration', { numberOfKeys: 3, lua: commitLua })
    }
    this.#redis = client
    this.#keys = keys
    this.#options = options
  }

  async apply(document: RulesDocument, fingerprint: string, hooks: ApplyHooks = {}): Promise<ApplyResult> {
    const { version } = document
    const entries = toEntries(document)
    if (entries.length === 0) throw new TypeError('a ruleset without domains is never applied')
    // Cheap early answer: a version the pointer already passed is not worth staging. The script
    // checks again at the commit, which is what makes it safe.
    const current = await this.#pointer()
    if (version < current.version) return { result: 'superseded', version, currentVersion: current.version }
    if (version === current.version) {
      return current.fingerprint === fingerprint
        ? { result: 'unchanged', version }
        : { result: 'conflict', version, currentVersion: current.version }
    }
    const staging = this.#keys.staging(version, randomUUID())
    const ttlMs = this.#options.stagingTtlMs
    await writeInBatches(this.#redis, staging, entries, this.#options.pacing, hooks, (pipeline) => {
      pipeline.pexpire(staging, ttlMs)
    })
    const [code, other] = await this.#redis.rulesCommitGeneration(
      this.#keys.current(),
      staging,
      this.#keys.generation(version),
      String(version),
      fingerprint,
      String(entries.length),
    )
    return this.#outcome(code, version, other)
  }

  async read(knownVersion?: number): Promise<StoredRules | 'unchanged'> {
    const pointer = await this.#pointer()
    if (pointer.version === 0) return { layout: this.layout, version: 0, domains: [] }
    if (pointer.version === knownVersion) return 'unchanged'
    const hash = await this.#redis.hgetall(this.#keys.generation(pointer.version))
    // A generation the pointer names is removed only by expiry after the pointer moved on
    // (retentionMs); finding it gone means this read is that old: the caller reads again.
    if (Object.keys(hash).length === 0)
      throw new Error(`rules generation ${pointer.version} is gone; read again`)
    return {
      layout: this.layout,
      version: pointer.version,
      fingerprint: pointer.fingerprint,
      domains: fromHash(hash),
    }
  }

  async #pointer(): Promise<{ version: number; fingerprint: string }> {
    const [version, fingerprint] = await this.#redis.hmget(this.#keys.current(), 'version', 'fingerprint')
    return { version: Number(version ?? 0), fingerprint: fingerprint ?? '' }
  }

  async #outcome(code: number, version: number, other: number): Promise<ApplyResult> {
    switch (code) {
      case 1:
        // The generation the pointer left stays readable for a reader that just read the old pointer.
        if (other > 0) await this.#redis.pexpire(this.#keys.generation(other), this.#options.retentionMs)
        return { result: 'applied', version, previousVersion: other }
      case 0:
        return { result: 'unchanged', version }
      case -1:
        return { result: 'superseded', version, currentVersion: other }
      case -2:
        return { result: 'conflict', version, currentVersion: other }
      case -3:
        return { result: 'incomplete', version, currentVersion: other }
      default:
        throw new Error(`commit-generation answered an unknown code ${code}`)
    }
  }
}
