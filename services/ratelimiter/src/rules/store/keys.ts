/**
 * Every Redis key of the rules distribution (pm07), built here and nowhere else — the service,
 * its tests and the chaos experiments (through `fixture.ts`) all use this class.
 *
 * Two layouts, one per value of the `rulesCompareAndSet` switch:
 *
 *   in place (naive):         <p>ratelimiter:{rules}:applied          hash, one field per domain
 *                             <p>ratelimiter:{rules}:version          string, the applied version
 *   generations (hardened):   <p>ratelimiter:{rules}:current          hash {version, fingerprint}: the pointer
 *                             <p>ratelimiter:{rules}:gen:<version>    hash, one field per domain; old ones expire
 *                             <p>ratelimiter:{rules}:staging:<version>:<token>   a ruleset being written
 *
 * The `{rules}` hash tag puts every key in one slot, so the commit script (which touches the
 * pointer, a staging key and a generation key) and the readers' MULTI run unchanged on Redis
 * Cluster. `prefix` (REDIS_KEY_PREFIX) isolates tests; it must not contain `{`.
 */
import { escapeGlob } from '@faultline/infra'

export class RulesStoreKeys {
  readonly prefix: string
  readonly #base: string

  constructor(prefix = '') {
    if (prefix.includes('{'))
      throw new TypeError(`key prefix "${prefix}" must not contain "{" (it would move the hash tag)`)
    this.prefix = prefix
    this.#base = `${prefix}ratelimiter:{rules}`
  }

  /** Naive layout: the applied ruleset, rewritten in place. */
  applied(): string {
    return `${this.#base}:applied`
  }

  /** Naive layout: the applied version, set after the ruleset is written. */
  version(): string {
    return `${this.#base}:version`
  }

  /** Hardened layout: the pointer to the applied generation. */
  current(): string {
    return `${this.#base}:current`
  }

  /** Hardened layout: one applied (or formerly applied) generation. */
  generation(version: number): string {
    return `${this.#base}:gen:${version}`
  }

  /** Hardened layout: a ruleset an applier is writing; `token` keeps two appliers apart. */
  staging(version: number, token: string): string {
    return `${this.#base}:staging:${version}:${token}`
  }

  /** SCAN MATCH pattern for every key above: what a test or an experiment deletes to start over. */
  pattern(): string {
    return `${escapeGlob(this.#base)}:*`
  }
}

/** The keys of a service with no REDIS_KEY_PREFIX (the default, and every chaos experiment). */
export const rulesStoreKeys = new RulesStoreKeys()
