/**
 * Seeded posts: `postsPerUser` per user, at random moments of a past window, with ids made the
 * way Postgres makes them (ids.ts: milliseconds since 2020 × 4096 + a 12-bit sequence) so the
 * service orders, pages and caps them like its own. The window ends before any post already in
 * the schema (or a second ago), so a seeded id never collides with an existing one and an API
 * post made afterwards is newer than every seeded one.
 */
import { firstPostIdAt, POST_ID_SEQ_BITS, postIdTimeMs } from '../ids.ts'
import { type Random, randomInt, shuffle } from './random.ts'

export interface SeedPosts {
  /** Ascending post ids (time order). */
  ids: Float64Array
  /** The author's user index of each post, same order. */
  authors: Uint32Array
}

/** The window `[startMs, endMs]` the seeded posts are spread over. */
export interface PostWindow {
  startMs: number
  endMs: number
}

/** The default window: the `spanMs` before `endMs`, which stays before the oldest existing post. */
export function postWindow(spanMs: number, nowMs: number, oldestExistingId: number | null): PostWindow {
  let endMs = nowMs - 1000
  if (oldestExistingId !== null) endMs = Math.min(endMs, postIdTimeMs(oldestExistingId) - 1)
  return { startMs: endMs - spanMs, endMs }
}

export function buildPosts(
  users: number,
  postsPerUser: number,
  window: PostWindow,
  random: Random,
): SeedPosts {
  const count = users * postsPerUser
  const span = window.endMs - window.startMs
  const moments = new Float64Array(count)
  for (let i = 0; i < count; i++) moments[i] = window.startMs + randomInt(random, span + 1)
  moments.sort()
  // Random low bits, then strictly increasing: two posts in the same millisecond get different ids,
  // and an id's millisecond (its created_at) is never before the moment drawn for it.
  const ids = new Float64Array(count)
  let previous = -1
  for (let i = 0; i < count; i++) {
    const id = Math.max(
      previous + 1,
      firstPostIdAt(moments[i] as number) + randomInt(random, 2 ** POST_ID_SEQ_BITS),
    )
    ids[i] = id
    previous = id
  }
  const authors = new Uint32Array(count)
  for (let i = 0; i < count; i++) authors[i] = i % users
  shuffle(random, authors)
  return { ids, authors }
}
