/**
 * Deleting Redis keys by pattern, the one way the lab's faults, the systems' fixtures and the
 * testkit do it: SCAN + UNLINK, never KEYS (which blocks Redis for the whole keyspace) nor DEL
 * (which frees large values on the main thread).
 *
 * It lives here because every one of those packages already depends on `@faultline/infra`, and
 * the client is described by the two commands it needs, so this package needs no Redis client.
 */

/** The part of an ioredis client `unlinkMatching` uses. */
export interface KeyUnlinker {
  scan(
    cursor: string,
    matchToken: 'MATCH',
    pattern: string,
    countToken: 'COUNT',
    count: number,
  ): Promise<[cursor: string, keys: string[]]>
  unlink(...keys: string[]): Promise<number>
}

/**
 * SCAN + UNLINK of every key matching the glob `pattern`; returns how many were removed. Give it a
 * client without a `keyPrefix`: ioredis prefixes UNLINK's keys but not SCAN's pattern, so the keys
 * SCAN returns would be prefixed twice.
 */
export async function unlinkMatching(redis: KeyUnlinker, pattern: string): Promise<number> {
  let removed = 0
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) removed += await redis.unlink(...keys)
  } while (cursor !== '0')
  return removed
}

/** `text` with the glob's special characters escaped, to match it literally in a SCAN pattern. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}
