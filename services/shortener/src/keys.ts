/**
 * The one key builder of this service, used by every caller — the cache, the fill lease, the
 * tests and the chaos experiments (through `fixture.ts`) — so a reader finds every key shape in
 * one place and no other module writes a key string.
 *
 *   shortener:link:<code>   cached link (JSON) or the negative-cache marker, with a TTL
 *   shortener:fill:<code>   short-lived lease: the one instance filling <code> from Postgres
 *
 * `prefix` (REDIS_KEY_PREFIX) lets tests isolate their keys (`t:<random>:shortener:link:abc`).
 */
import { escapeGlob } from '@faultline/infra'

export class Keys {
  readonly prefix: string

  constructor(prefix = '') {
    this.prefix = prefix
  }

  link(code: string): string {
    return `${this.prefix}shortener:link:${code}`
  }

  fillLease(code: string): string {
    return `${this.prefix}shortener:fill:${code}`
  }

  /**
   * SCAN MATCH patterns covering every key of the codes that start with `codePrefix`: what a
   * test or an experiment removes to start again from nothing.
   */
  codePatterns(codePrefix: string): string[] {
    const literal = escapeGlob(codePrefix)
    return [`${escapeGlob(this.link(''))}${literal}*`, `${escapeGlob(this.fillLease(''))}${literal}*`]
  }
}

/** The keys of a service configured with `prefix` (REDIS_KEY_PREFIX). */
export function createKeys(prefix = ''): Keys {
  return new Keys(prefix)
}

/** The keys of a service with no REDIS_KEY_PREFIX (the default, and every chaos experiment). */
export const keys = new Keys()
