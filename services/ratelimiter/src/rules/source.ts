/**
 * Where the applied rules come from, behind one small interface, so the decision engine and the
 * routes do not care whether rules are read from a file (file-source.ts) or distributed through
 * Redis with a generation (pm07). Every source applies a ruleset through `AppliedRulesHolder`,
 * which holds the one rule a reload must obey: the applied version never goes backwards, and one
 * version never means two contents.
 */
import type { CompiledRules } from './compile.ts'
import { type LoadedRules, loadRulesText, loadRulesValue, type RulesFormat } from './parse.ts'

export interface AppliedRules {
  /** The ruleset's generation (`version:` in the file). */
  version: number
  ruleset: CompiledRules
  /** Where it came from: `file:/path/rules.yaml`, `PUT /admin/rules`, … */
  source: string
  /** ISO 8601 time this process applied it. */
  appliedAt: string
}

export type RulesListener = (applied: AppliedRules) => void

export interface RulesSource {
  /** The rules in force, or undefined before any valid ruleset was applied. */
  current(): AppliedRules | undefined
  /** Calls `listener` now (when rules are applied) and after every change; returns the unsubscribe. */
  subscribe(listener: RulesListener): () => void
  close(): void | Promise<void>
  /** Sources that distribute rules through Redis (rules/store): the store's layout and generation, for GET /v1/rules. */
  distribution?(): { layout: string; generation: number }
}

/** A ruleset to apply: text in a format (a file, a YAML body), or an already parsed value (a JSON body). */
export type RulesInput = { text: string; format: RulesFormat } | { value: unknown }

export type ApplyOutcome =
  | { status: 'applied' | 'unchanged'; applied: AppliedRules }
  /** Nothing changed: `current` (if any) stays in force. */
  | { status: 'rejected'; problems: string[]; current?: AppliedRules; cause?: RejectCause }

/**
 * Why a ruleset was not applied when the ruleset itself is fine (absent = it is invalid, 422):
 * `superseded` — a newer version is applied in Redis (409, rules/store, pm07); `unavailable` —
 * Redis did not take it (503).
 */
export type RejectCause = 'superseded' | 'unavailable'

/** What the admin routes (PUT /admin/rules, POST /admin/rules/reload) and SIGHUP call. */
export interface RulesAdmin {
  /** Reads the source's own origin again (the file) and applies it if valid. */
  reload(): Promise<ApplyOutcome>
  /** Applies a ruleset given by the caller; `origin` names it in `AppliedRules.source`. */
  apply(input: RulesInput, origin: string): Promise<ApplyOutcome>
}

export function loadRulesInput(input: RulesInput) {
  return 'text' in input ? loadRulesText(input.text, input.format) : loadRulesValue(input.value)
}

/** The applied rules of one process, and the version rule every source applies through `offer`. */
export class AppliedRulesHolder {
  #current: AppliedRules | undefined
  readonly #listeners = new Set<RulesListener>()
  readonly #now: () => number

  constructor(now: () => number = Date.now) {
    this.#now = now
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

  /**
   * Applies `loaded` unless it would move the version backwards or change the content of the
   * applied version (two different files both calling themselves version 7 is an operator error
   * that must be seen, not a coin toss between them).
   */
  offer(loaded: LoadedRules, source: string): ApplyOutcome {
    const applied = this.#current
    const { version, fingerprint } = loaded.ruleset
    if (applied) {
      if (version < applied.version) {
        return reject(applied, `version: ${version} is older than the applied version ${applied.version}`)
      }
      if (version === applied.version) {
        if (fingerprint === applied.ruleset.fingerprint) return { status: 'unchanged', applied }
        return reject(
          applied,
          `version: ${version} is already applied with other content; give a changed ruleset a higher version`,
        )
      }
    }
    const next: AppliedRules = {
      version,
      ruleset: loaded.ruleset,
      source,
      appliedAt: new Date(this.#now()).toISOString(),
    }
    this.#current = next
    for (const listener of this.#listeners) listener(next)
    return { status: 'applied', applied: next }
  }

  clear(): void {
    this.#listeners.clear()
  }
}

/** A valid ruleset whose version does not move forward: superseded by the applied one (409). */
function reject(current: AppliedRules, problem: string): ApplyOutcome {
  return { status: 'rejected', problems: [problem], current, cause: 'superseded' }
}
