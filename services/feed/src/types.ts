/** Shapes shared by the feed's API, relay, worker and fixture. Ids are decimal strings (ids.ts). */

export interface User {
  id: string
  handle: string
}

/** A post as the API returns it. `createdAt` is ISO-8601 UTC with milliseconds. */
export interface Post {
  id: string
  authorId: string
  text: string
  createdAt: string
}

/** What the post cache holds under `keys.post(id)`. */
export type CachedPost = Post | { deleted: true }

/**
 * An outbox row's payload, published to POSTS_TOPIC with key = authorId. `outboxId` is the outbox
 * row id (unique, increasing per commit order of the relay's reads), for tracing and dedupe logs.
 */
export type PostEvent =
  | { type: 'post_created'; outboxId: string; postId: string; authorId: string; createdAtMs: number }
  | { type: 'post_deleted'; outboxId: string; postId: string; authorId: string }

/** One page of a home timeline. */
export interface TimelinePage {
  items: Post[]
  /** The id to pass as `?cursor` for the next (older) page; null at the end. */
  nextCursor: string | null
  /**
   * The timeline was cold and its rebuild did not finish within REBUILD_WAIT_MS (admission
   * control): the API answers 206 with what it has and Retry-After.
   */
  rebuilding: boolean
}

/** The read side the timeline route calls (timeline/reader.ts implements it). */
export interface TimelineReader {
  /** A page of `userId`'s home timeline; `null` when no such user exists (the route's 404). */
  read(userId: string, page: { limit: number; cursor?: string }): Promise<TimelinePage | null>
}
