import type pg from 'pg'
import { HandleTakenError } from '../errors.ts'
import type { ApiMetrics } from '../metrics.ts'
import type { User } from '../types.ts'

export interface UserRecord extends User {
  /** Kept in the follow/unfollow transaction: the fan-out's celebrity test reads it. */
  followerCount: number
}

/** SQLSTATE unique_violation. */
const uniqueViolation = '23505'

type Queryable = Pick<pg.Pool, 'query'>

/** Postgres access for accounts, on the primary. Every method is one statement. */
export class UserRepository {
  readonly #db: Queryable
  readonly #metrics: ApiMetrics

  constructor(db: Queryable, metrics: ApiMetrics) {
    this.#db = db
    this.#metrics = metrics
  }

  /** Creates an account; throws {@link HandleTakenError} (409, field `body.handle`) when the handle exists. */
  async create(handle: string): Promise<User> {
    this.#metrics.dbQueries.inc({ pool: 'primary', op: 'create_user' })
    try {
      const { rows } = await this.#db.query<{ id: string }>(
        'INSERT INTO users (handle) VALUES ($1) RETURNING id',
        [handle],
      )
      return { id: String(rows[0]?.id), handle }
    } catch (err) {
      if (
        (err as { code?: string }).code === uniqueViolation &&
        (err as { constraint?: string }).constraint === 'users_handle_key'
      ) {
        const taken = new HandleTakenError(handle) as InstanceType<typeof HandleTakenError> & {
          field: string
        }
        taken.field = 'body.handle'
        throw taken
      }
      throw err
    }
  }

  /** `id` must be a valid id (ids.ts parseId): the column is a bigint. */
  async get(id: string): Promise<UserRecord | undefined> {
    this.#metrics.dbQueries.inc({ pool: 'primary', op: 'get_user' })
    const { rows } = await this.#db.query<{ id: string; handle: string; follower_count: number }>(
      'SELECT id, handle, follower_count FROM users WHERE id = $1',
      [id],
    )
    const row = rows[0]
    return row ? { id: String(row.id), handle: row.handle, followerCount: row.follower_count } : undefined
  }
}
