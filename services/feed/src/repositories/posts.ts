import { withPgClient } from '@faultline/kit/clients'
import type pg from 'pg'
import type { ApiMetrics } from '../metrics.ts'
import type { Post, PostEvent } from '../types.ts'

export type DeleteResult =
  | { kind: 'deleted'; authorId: string }
  /** Deleted earlier: nothing written, no second event. */
  | { kind: 'already'; authorId: string }
  | { kind: 'missing' }

/** SQLSTATE foreign_key_violation: the author does not exist. */
const foreignKeyViolation = '23503'

/**
 * The post's id and created_at come from one clock reading, truncated to the millisecond, so the
 * id's time part (ids.ts) and created_at agree and "newest first" is the same by id or by time.
 * clock_timestamp(), not now(): now() is the transaction's start, and two transactions that start
 * in one order can commit in the other.
 */
const insertPostSql = `
INSERT INTO posts (id, author_id, text, created_at)
SELECT post_id_at(t.at), $1, $2, t.at
FROM (SELECT date_trunc('milliseconds', clock_timestamp()) AS at) AS t
RETURNING id, author_id, text, created_at`

/**
 * The outbox row, its id drawn first so the payload can carry it (`outboxId`). The payload is
 * built in TypeScript from the PostEvent type; only the id is added here.
 */
const insertOutboxSql = `
INSERT INTO outbox (id, key, payload)
SELECT s.id, $1, $2::jsonb || jsonb_build_object('outboxId', s.id::text)
FROM (SELECT nextval(pg_get_serial_sequence('outbox', 'id')) AS id) AS s`

type PostRow = { id: string; author_id: string; text: string; created_at: Date }

function toPost(row: PostRow): Post {
  return {
    id: String(row.id),
    authorId: String(row.author_id),
    text: row.text,
    createdAt: row.created_at.toISOString(),
  }
}

/**
 * Posts, on the primary. A post (or its deletion) and its outbox row commit in one transaction:
 * the relay publishes exactly the committed changes, and a change whose transaction rolled back
 * never reaches Kafka.
 */
export class PostRepository {
  readonly #pool: Pick<pg.Pool, 'connect' | 'query'>
  readonly #metrics: ApiMetrics

  constructor(pool: Pick<pg.Pool, 'connect' | 'query'>, metrics: ApiMetrics) {
    this.#pool = pool
    this.#metrics = metrics
  }

  /** The new post, or undefined when the author does not exist (nothing written). */
  async create(authorId: string, text: string): Promise<Post | undefined> {
    this.#metrics.dbQueries.inc({ pool: 'primary', op: 'create_post' })
    try {
      return await withPgClient(this.#pool, async (client) => {
        await client.query('BEGIN')
        const { rows } = await client.query<PostRow>(insertPostSql, [authorId, text])
        const post = toPost(rows[0] as PostRow)
        const event: Omit<Extract<PostEvent, { type: 'post_created' }>, 'outboxId'> = {
          type: 'post_created',
          postId: post.id,
          authorId: post.authorId,
          createdAtMs: Date.parse(post.createdAt),
        }
        await client.query(insertOutboxSql, [post.authorId, JSON.stringify(event)])
        await client.query('COMMIT')
        return post
      })
    } catch (err) {
      if ((err as { code?: string }).code === foreignKeyViolation) return undefined
      throw err
    }
  }

  /**
   * Marks a post deleted and writes its `post_deleted` event, in one transaction. The row lock of
   * the UPDATE serialises concurrent deletes of one post: the second sees `deleted_at` set and
   * writes nothing, so each post has at most one deletion event.
   */
  async delete(postId: string): Promise<DeleteResult> {
    this.#metrics.dbQueries.inc({ pool: 'primary', op: 'delete_post' })
    return withPgClient(this.#pool, async (client) => {
      await client.query('BEGIN')
      const { rows } = await client.query<{ author_id: string }>(
        'UPDATE posts SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING author_id',
        [postId],
      )
      const deleted = rows[0]
      if (deleted) {
        const authorId = String(deleted.author_id)
        const event: Omit<Extract<PostEvent, { type: 'post_deleted' }>, 'outboxId'> = {
          type: 'post_deleted',
          postId,
          authorId,
        }
        await client.query(insertOutboxSql, [authorId, JSON.stringify(event)])
        await client.query('COMMIT')
        return { kind: 'deleted', authorId }
      }
      const { rows: existing } = await client.query<{ author_id: string }>(
        'SELECT author_id FROM posts WHERE id = $1',
        [postId],
      )
      await client.query('COMMIT')
      const row = existing[0]
      return row ? { kind: 'already', authorId: String(row.author_id) } : { kind: 'missing' }
    })
  }

  /** A post that exists and is not deleted. */
  async get(postId: string): Promise<Post | undefined> {
    this.#metrics.dbQueries.inc({ pool: 'primary', op: 'get_post' })
    const { rows } = await this.#pool.query<PostRow>(
      'SELECT id, author_id, text, created_at FROM posts WHERE id = $1 AND deleted_at IS NULL',
      [postId],
    )
    const row = rows[0]
    return row ? toPost(row) : undefined
  }

  /** The author's newest `limit` non-deleted post ids, newest first (the follow merge, the unfollow). */
  async newestIds(authorId: string, limit: number): Promise<string[]> {
    this.#metrics.dbQueries.inc({ pool: 'primary', op: 'author_post_ids' })
    const { rows } = await this.#pool.query<{ id: string }>(
      'SELECT id FROM posts WHERE author_id = $1 AND deleted_at IS NULL ORDER BY id DESC LIMIT $2',
      [authorId, limit],
    )
    return rows.map((r) => String(r.id))
  }
}
