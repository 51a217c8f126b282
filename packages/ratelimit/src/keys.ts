/**
 * The one key builder of the limiter: every script's keys, every test and the memory script get
 * their key strings here, so a reader finds every key shape in one place.
 *
 *   <prefix>:{fixed-window:<key>}:count      hash {start, count}: the current window's count
 *   <prefix>:{sliding-log:<key>}:log         ZSET, one member per admitted unit, scored by Redis time (µs)
 *   <prefix>:{sliding-window:<key>}:counts   hash {start, cur, prev}: this and the previous window's counts
 *   <prefix>:{token-bucket:<key>}:bucket     hash {tokens, ts}: tokens left at Redis time `ts` (µs)
 *   <prefix>:{gcra:<key>}:tat                string: the theoretical arrival time (µs)
 *
 * The `{…}` is a Redis Cluster hash tag: only it is hashed, so every key of one (algorithm, user
 * key) pair lands in the same slot and a script that touches several of them runs unchanged on
 * a cluster. A user key cannot end the tag early: `{`, `}` and the escape character `%` are
 * percent-encoded, which also keeps the mapping one-to-one (`a}b` and `a%7Db` stay different keys).
 */
import { RateLimitInputError } from './algorithms/validation.ts'
import type { AlgorithmName } from './types.ts'

/** The limiter's default namespace in Redis. */
export const defaultPrefix = 'ratelimit'

/** Longest user key accepted (UTF-16 code units): a key is stored in Redis once per algorithm. */
export const maxKeyLength = 1024

const suffixOf: Record<AlgorithmName, string> = {
  'fixed-window': 'count',
  'sliding-log': 'log',
  'sliding-window': 'counts',
  'token-bucket': 'bucket',
  gcra: 'tat',
}

/** `{`, `}` and `%` percent-encoded; every other character kept as it is. */
export function escapeKey(key: string): string {
  return key.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

export class LimiterKeys {
  readonly prefix: string

  constructor(prefix = defaultPrefix) {
    if (typeof prefix !== 'string' || prefix.length === 0 || /[{}]/.test(prefix)) {
      // A brace in the prefix would become the hash tag and put every key in one slot.
      throw new RateLimitInputError(
        'RATELIMIT_ERR_BAD_PREFIX',
        'prefix',
        'must be a non-empty string without { or }',
      )
    }
    this.prefix = prefix
  }

  /** The hash tag shared by every key of `algorithm` for `key`: `{<algorithm>:<escaped key>}`. */
  tag(algorithm: AlgorithmName, key: string): string {
    if (typeof key !== 'string' || key.length === 0 || key.length > maxKeyLength) {
      throw new RateLimitInputError(
        'RATELIMIT_ERR_BAD_KEY',
        'key',
        `must be a non-empty string of at most ${maxKeyLength} characters`,
      )
    }
    return `{${algorithm}:${escapeKey(key)}}`
  }

  /** The keys a script of `algorithm` touches for `key`, in the script's KEYS order. */
  scriptKeys(algorithm: AlgorithmName, key: string): string[] {
    return [`${this.prefix}:${this.tag(algorithm, key)}:${suffixOf[algorithm]}`]
  }

  /** SCAN MATCH pattern covering every key under this prefix (cleanup in tests and scripts). */
  pattern(): string {
    return `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}:*`
  }
}
