/**
 * Rules distributed through Redis (pm07): every instance is an applier of what it is given (its
 * RULES_FILE at boot and on reload, a `PUT /admin/rules` body) and a reader of the applied ruleset
 * in Redis, which it polls every RULES_POLL_MS and switches to atomically in memory — so every
 * instance decides with the same rules, whichever instance a push went to.
 *
 * The `rulesCompareAndSet` switch, read at every apply and every read, picks the store's layout
 * and the reader's rule:
 * - on (hardened): generations + a compare-and-set commit (generation-store.ts); an older push is
 *   refused as superseded (409), and a reader never adopts an empty, older or conflicting ruleset;
 * - off (naive): one ruleset rewritten in place (in-place-store.ts); a reader adopts whatever the
 *   store holds, which mid-apply is empty and after a stale applier resumes is older.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { type CompiledRules, compileRules, fingerprintOf } from '../compile.ts'
import type { LoadedRules } from '../parse.ts'
import { loadRulesValue } from '../parse.ts'
import type { RulesDocument } from '../schema.ts'
import {
  type AppliedRules,
  type ApplyOutcome,
  loadRulesInput,
  type RulesAdmin,
  type RulesInput,
  type RulesListener,
  type RulesSource,
} from '../source.ts'
import type { RulesStoreSettings } from './env.ts'
import { GenerationRulesStore } from './generation-store.ts'
import { InPlaceRulesStore } from './in-place-store.ts'
import type { RulesStoreKeys } from './keys.ts'
import { readRulesFile } from './rules-file.ts'
import {
  type ApplyResult,
  isEmpty,
  type RedisClient,
  type RulesStore,
  type StoredRules,
  type StoreLayout,
} from './types.ts'

export interface RulesSourceLog {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export interface RedisRulesSourceOptions {
  redis: RedisClient
  keys: RulesStoreKeys
  /** The service's switch state; `rulesCompareAndSet` is read live. */
  switches: { readonly current: { readonly rulesCompareAndSet: boolean } }
  settings: RulesStoreSettings
  log?: RulesSourceLog
  now?: () => number
}

export type ReadOutcome =
  | 'adopted'
  | 'unchanged'
  | 'refused_empty'
  | 'refused_older'
  | 'refused_conflict'
  | 'refused_invalid'
  | 'failed'

type Offer = Exclude<ReadOutcome, 'refused_invalid' | 'failed'>

/** What GET /v1/rules and the metrics (metrics.ts) say about the distribution. */
export interface DistributionStatus {
  layout: StoreLayout
  /** The applied version in Redis as last read (0 = none, or an in-place apply under way). */
  generation: number
  /** Applies of this process writing to Redis now. */
  appliesInProgress: number
}

const silent: RulesSourceLog = { info() {}, warn() {} }

export class RedisRulesSource implements RulesSource, RulesAdmin {
  readonly path: string
  readonly #options: RedisRulesSourceOptions
  readonly #stores: Record<StoreLayout, RulesStore>
  readonly #listeners = new Set<RulesListener>()
  readonly #stop = new AbortController()
  readonly #log: RulesSourceLog
  #current: AppliedRules | undefined
  #generation = 0
  #appliesInProgress = 0
  readonly #reads = new Map<ReadOutcome, number>()
  #readFailing = false
  #loop: Promise<void> | undefined
  #pendingBootApply: RulesInput | undefined

  private constructor(path: string, options: RedisRulesSourceOptions) {
    this.path = path
    this.#options = options
    this.#log = options.log ?? silent
    const { redis, keys, settings } = options
    this.#stores = {
      'in-place': new InPlaceRulesStore(redis, keys, settings.pacing),
      generations: new GenerationRulesStore(redis, keys, {
        pacing: settings.pacing,
        retentionMs: settings.retentionMs,
        stagingTtlMs: settings.stagingTtlMs,
      }),
    }
  }

  /**
   * Applies the file in memory (so the instance can decide even with Redis down), then to Redis as
   * an applier, reads the applied ruleset once and starts polling. Throws RulesFileError for an
   * invalid file, like the file source.
   */
  static async open(path: string, options: RedisRulesSourceOptions): Promise<RedisRulesSource> {
    const source = new RedisRulesSource(path, options)
    const loaded = await readRulesFile(path)
    source.#offer(source.#record(loaded.ruleset, `file:${path}`), false)
    const outcome = await source.apply(loaded.input, `file:${path}`)
    if (outcome.status === 'rejected') {
      source.#log.info(
        { cause: outcome.cause, problems: outcome.problems },
        'rules file not applied to Redis at boot',
      )
      // Redis was away: the file goes there as soon as it is back, or this instance would decide
      // with rules no other instance can read.
      if (outcome.cause === 'unavailable') source.#pendingBootApply = loaded.input
    }
    await source.pollOnce()
    source.#loop = source.#poll()
    return source
  }

  current(): AppliedRules | undefined {
    return this.#current
  }

  subscribe(listener: RulesListener): () => void {
    this.#listeners.add(listener)
    if (this.#current) listener(this.#current)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  distribution(): DistributionStatus {
    return {
      layout: this.#layout(),
      generation: this.#generation,
      appliesInProgress: this.#appliesInProgress,
    }
  }

  /** Reads of the store so far, by outcome. */
  readCounts(): ReadonlyMap<ReadOutcome, number> {
    return this.#reads
  }

  async reload(): Promise<ApplyOutcome> {
    try {
      const loaded = await readRulesFile(this.path)
      return await this.apply(loaded.input, `file:${this.path}`)
    } catch (err) {
      const problems = (err as { problems?: string[] }).problems ?? [String(err)]
      return { status: 'rejected', problems, ...(this.#current ? { current: this.#current } : {}) }
    }
  }

  /** Validates `input`, applies it to Redis and, when Redis took it, decides with it at once. */
  async apply(input: RulesInput, origin: string): Promise<ApplyOutcome> {
    const loaded = loadRulesInput(input)
    const current = this.#current ? { current: this.#current } : {}
    if (!loaded.ok) return { status: 'rejected', problems: loaded.problems, ...current }
    const guarded = this.#guarded()
    let result: ApplyResult
    try {
      result = await this.#applyToStore(loaded.value, guarded)
    } catch (err) {
      this.#log.warn({ err, version: loaded.value.ruleset.version }, 'rules apply to Redis failed')
      return {
        status: 'rejected',
        cause: 'unavailable',
        problems: [`(redis): ${(err as Error).message}`],
        ...current,
      }
    }
    return this.#outcome(result, this.#record(loaded.value.ruleset, origin), guarded)
  }

  /** One read of the applied ruleset in Redis, adopted or refused by the switch's rule. Never throws. */
  async pollOnce(): Promise<ReadOutcome> {
    const guarded = this.#guarded()
    let read: StoredRules | 'unchanged'
    try {
      read = await this.#stores[this.#layout()].read(guarded ? this.#current?.version : undefined)
      if (this.#readFailing) this.#log.info({}, 'rules reads from Redis work again')
      this.#readFailing = false
    } catch (err) {
      if (!this.#readFailing) this.#log.warn({ err }, 'rules read from Redis failed; the rules in force stay')
      this.#readFailing = true
      return this.#count('failed')
    }
    if (read === 'unchanged') {
      // The pointer still names the version this instance holds.
      this.#generation = this.#current?.version ?? 0
      return this.#count('unchanged')
    }
    this.#generation = read.version
    return this.#count(guarded ? this.#adoptGuarded(read) : this.#adoptAnything(read))
  }

  async close(): Promise<void> {
    this.#stop.abort()
    await this.#loop
    this.#listeners.clear()
  }

  async #poll(): Promise<void> {
    const { signal } = this.#stop
    while (!signal.aborted) {
      try {
        await sleep(this.#options.settings.pollMs, undefined, { signal })
      } catch {
        return
      }
      await this.#retryBootApply()
      await this.pollOnce()
    }
  }

  async #retryBootApply(): Promise<void> {
    const input = this.#pendingBootApply
    if (!input) return
    const outcome = await this.apply(input, `file:${this.path}`)
    if (outcome.status !== 'rejected' || outcome.cause !== 'unavailable') this.#pendingBootApply = undefined
  }

  #guarded(): boolean {
    return this.#options.switches.current.rulesCompareAndSet
  }

  #layout(): StoreLayout {
    return this.#guarded() ? 'generations' : 'in-place'
  }

  async #applyToStore(loaded: LoadedRules, guarded: boolean): Promise<ApplyResult> {
    this.#appliesInProgress += 1
    try {
      const store = this.#stores[guarded ? 'generations' : 'in-place']
      return await store.apply(loaded.document, loaded.ruleset.fingerprint)
    } finally {
      this.#appliesInProgress -= 1
    }
  }

  #outcome(result: ApplyResult, record: AppliedRules, guarded: boolean): ApplyOutcome {
    const current = () => (this.#current ? { current: this.#current } : {})
    switch (result.result) {
      case 'applied':
      case 'unchanged':
        this.#generation = result.version
        // The applier decides with what it applied at once; the others read it within RULES_POLL_MS.
        this.#offer(record, guarded)
        // Unchanged: what is in force is the record of its first apply (its time and source).
        return {
          status: result.result,
          applied: this.#current?.ruleset.fingerprint === record.ruleset.fingerprint ? this.#current : record,
        }
      case 'superseded':
        return {
          status: 'rejected',
          cause: 'superseded',
          problems: [
            `version: ${result.version} is older than the applied generation ${result.currentVersion}`,
          ],
          ...current(),
        }
      case 'conflict':
        return {
          status: 'rejected',
          cause: 'superseded',
          problems: [
            `version: ${result.version} is already applied with other content; give a changed ruleset a higher version`,
          ],
          ...current(),
        }
      case 'incomplete':
        return {
          status: 'rejected',
          cause: 'unavailable',
          problems: [`version: ${result.version} expired in Redis before its apply finished; apply it again`],
          ...current(),
        }
    }
  }

  /** The hardened reader: only a complete, valid, newer ruleset replaces the one in force. */
  #adoptGuarded(read: StoredRules): ReadOutcome {
    if (isEmpty(read)) return 'refused_empty'
    const applied = this.#current
    if (applied && read.version < applied.version) return 'refused_older'
    const loaded = loadRulesValue({ version: read.version, domains: read.domains } satisfies RulesDocument)
    if (!loaded.ok) {
      this.#log.warn({ version: read.version, problems: loaded.problems }, 'invalid ruleset in Redis refused')
      return 'refused_invalid'
    }
    return this.#offer(this.#record(loaded.value.ruleset, `redis:generation ${read.version}`), true)
  }

  /** The naive reader: whatever the store holds now, empty or older included. */
  #adoptAnything(read: StoredRules): ReadOutcome {
    const document = { version: read.version, domains: read.domains }
    // Compare before compiling: a naive reader sees the same content at almost every read.
    if (this.#current?.ruleset.fingerprint === fingerprintOf(document)) return 'unchanged'
    return this.#offer(this.#record(compileRules(document), `redis:in-place ${read.version}`), false)
  }

  #offer(next: AppliedRules, guarded: boolean): Offer {
    const applied = this.#current
    if (applied?.ruleset.fingerprint === next.ruleset.fingerprint) return 'unchanged'
    if (guarded) {
      if (next.version === 0 || next.ruleset.domains.size === 0) return 'refused_empty'
      if (applied && next.version < applied.version) return 'refused_older'
      if (applied && next.version === applied.version) return 'refused_conflict'
    }
    this.#current = next
    for (const listener of this.#listeners) listener(next)
    return 'adopted'
  }

  #record(ruleset: CompiledRules, source: string): AppliedRules {
    const now = this.#options.now ?? Date.now
    return { version: ruleset.version, ruleset, source, appliedAt: new Date(now()).toISOString() }
  }

  #count(outcome: ReadOutcome): ReadOutcome {
    this.#reads.set(outcome, (this.#reads.get(outcome) ?? 0) + 1)
    return outcome
  }
}
