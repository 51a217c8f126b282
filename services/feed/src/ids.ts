/**
 * Post ids are time-ordered 53-bit integers, made by Postgres in the INSERT (migrations/0001):
 *   id = (milliseconds since 2020-01-01 UTC) × 4096 + (nextval(post_seq) mod 4096)
 * and `created_at` is the same millisecond, so "newest first" is the same order by id or by
 * (createdAt, id), and an id is exact as a Redis sorted-set score (a double) and as a JSON number
 * until 2088. In the API every id is a decimal string (like Mastodon's), so clients never parse
 * them into floats.
 */
export const POST_ID_EPOCH_MS = Date.UTC(2020, 0, 1)
export const POST_ID_SEQ_BITS = 12

/** The millisecond a post id was made in. */
export function postIdTimeMs(id: string | number | bigint): number {
  return Math.floor(Number(id) / 2 ** POST_ID_SEQ_BITS) + POST_ID_EPOCH_MS
}

/** The smallest post id of a millisecond (cursors, time windows). */
export function firstPostIdAt(ms: number): number {
  return (ms - POST_ID_EPOCH_MS) * 2 ** POST_ID_SEQ_BITS
}

/** A path or cursor id: decimal digits, no sign, no leading zero, at most 2^53 − 1. */
export function parseId(text: string): string | undefined {
  if (!/^[1-9][0-9]{0,15}$/.test(text)) return undefined
  return Number(text) <= Number.MAX_SAFE_INTEGER ? text : undefined
}
