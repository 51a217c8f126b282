import type pg from 'pg'

/** What a redirect needs. */
export interface LinkTarget {
  url: string
  expiresAt: Date | null
}

export interface LinkRecord extends LinkTarget {
  id: number
  code: string
  customAlias: boolean
  createdAt: Date
}

export interface LinkWithClicks extends LinkRecord {
  clicks: number
}

export interface NewLink {
  id: number
  code: string
  url: string
  customAlias: boolean
  expiresAt: Date | null
}

export class CodeTakenError extends Error {
  override name = 'CodeTakenError'
}

/** SQLSTATE unique_violation. */
const uniqueViolation = '23505'

type Queryable = Pick<pg.Pool, 'query'>

/** Postgres access for links. Every query is a single statement on the pool. */
export class LinkRepository {
  readonly #db: Queryable

  constructor(db: Queryable) {
    this.#db = db
  }

  /** Leases `size` ids; returns the first. Concurrent leases serialise on the row, never overlap. */
  async leaseIdBlock(size: number): Promise<number> {
    const { rows } = await this.#db.query<{ start: string }>(
      `UPDATE id_blocks SET next_id = next_id + $1 WHERE name = 'links' RETURNING next_id - $1 AS start`,
      [size],
    )
    const start = rows[0]?.start
    if (start === undefined) throw new Error('id_blocks has no "links" row: run the migrations')
    return Number(start)
  }

  /** Inserts a link; throws {@link CodeTakenError} when the code exists. */
  async insert(link: NewLink): Promise<LinkRecord> {
    try {
      const { rows } = await this.#db.query<{ created_at: Date }>(
        `INSERT INTO links (id, code, url, custom_alias, expires_at) VALUES ($1, $2, $3, $4, $5)
         RETURNING created_at`,
        [link.id, link.code, link.url, link.customAlias, link.expiresAt],
      )
      return { ...link, createdAt: rows[0]?.created_at as Date }
    } catch (err) {
      if (
        (err as { code?: string }).code === uniqueViolation &&
        (err as { constraint?: string }).constraint === 'links_code_key'
      ) {
        throw new CodeTakenError(link.code)
      }
      throw err
    }
  }

  /** The redirect path's one read. */
  async findTarget(code: string): Promise<LinkTarget | undefined> {
    const { rows } = await this.#db.query<{ url: string; expires_at: Date | null }>(
      'SELECT url, expires_at FROM links WHERE code = $1',
      [code],
    )
    const row = rows[0]
    return row ? { url: row.url, expiresAt: row.expires_at } : undefined
  }

  async findWithClicks(code: string): Promise<LinkWithClicks | undefined> {
    const { rows } = await this.#db.query<{
      id: string
      code: string
      url: string
      custom_alias: boolean
      created_at: Date
      expires_at: Date | null
      clicks: string
    }>(
      `SELECT l.id, l.code, l.url, l.custom_alias, l.created_at, l.expires_at, coalesce(c.count, 0) AS clicks
       FROM links l LEFT JOIN link_clicks c ON c.code = l.code
       WHERE l.code = $1`,
      [code],
    )
    const row = rows[0]
    if (!row) return undefined
    return {
      id: Number(row.id),
      code: row.code,
      url: row.url,
      customAlias: row.custom_alias,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      clicks: Number(row.clicks),
    }
  }
}
