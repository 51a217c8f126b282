/**
 * Rules from a YAML or JSON file (RULES_FILE), applied at boot and again on SIGHUP or
 * `POST /admin/rules/reload`; `PUT /admin/rules` applies a ruleset from the request instead. A
 * file that fails to parse or validate is rejected with every reason and the rules in force stay.
 * Each process applies its own copy: with N instances, reload each (the lab and compose send
 * SIGHUP to all); distribution through Redis with a generation is another `RulesSource`.
 */
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { formatOfPath } from './parse.ts'
import {
  type AppliedRules,
  AppliedRulesHolder,
  type ApplyOutcome,
  loadRulesInput,
  type RulesAdmin,
  type RulesInput,
  type RulesListener,
  type RulesSource,
} from './source.ts'

/** The rules file could not be applied at boot; `problems` lists every reason. */
export class RulesFileError extends Error {
  readonly code = 'RATELIMITER_ERR_RULES_FILE'
  readonly problems: string[]

  constructor(path: string, problems: string[]) {
    super(`rules file ${path} rejected: ${problems.join('; ')}`)
    this.name = 'RulesFileError'
    this.problems = problems
  }
}

export interface FileRulesSourceOptions {
  now?: () => number
}

export class FileRulesSource implements RulesSource, RulesAdmin {
  readonly path: string
  readonly #holder: AppliedRulesHolder

  private constructor(path: string, options: FileRulesSourceOptions) {
    this.path = resolve(path)
    this.#holder = new AppliedRulesHolder(options.now)
  }

  /** Reads and applies the file; throws RulesFileError with every reason when it is not valid. */
  static async open(path: string, options: FileRulesSourceOptions = {}): Promise<FileRulesSource> {
    const source = new FileRulesSource(path, options)
    const outcome = await source.reload()
    if (outcome.status === 'rejected') throw new RulesFileError(source.path, outcome.problems)
    return source
  }

  current(): AppliedRules | undefined {
    return this.#holder.current()
  }

  subscribe(listener: RulesListener): () => void {
    return this.#holder.subscribe(listener)
  }

  async reload(): Promise<ApplyOutcome> {
    const format = formatOfPath(this.path)
    if (!format) return this.#rejected(`(file): ${this.path} must end in .yaml, .yml or .json`)
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      return this.#rejected(`(file): cannot read ${this.path}: ${(err as NodeJS.ErrnoException).code ?? err}`)
    }
    return this.apply({ text, format }, `file:${this.path}`)
  }

  async apply(input: RulesInput, origin: string): Promise<ApplyOutcome> {
    const loaded = loadRulesInput(input)
    if (!loaded.ok) return this.#rejected(...loaded.problems)
    return this.#holder.offer(loaded.value, origin)
  }

  close(): void {
    this.#holder.clear()
  }

  #rejected(...problems: string[]): ApplyOutcome {
    const current = this.#holder.current()
    return { status: 'rejected', problems, ...(current ? { current } : {}) }
  }
}
