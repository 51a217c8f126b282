import { withPgClient } from '@faultline/kit/clients'
import type pg from 'pg'
import type { Photo, PhotoStatus, Variant, VariantFormat, VariantName } from '../types.ts'

type PhotoRow = {
  id: string
  owner_id: string
  sha256: Buffer
  bytes: string
  content_type: string | null
  original_key: string
  filename: string | null
  status: PhotoStatus
  reason: string | null
  width: number | null
  height: number | null
  placeholder: string | null
  created_at: Date
  processed_at: Date | null
}

type VariantRow = {
  photo_id: string
  name: VariantName
  format: VariantFormat
  object_key: string
  width: number
  height: number
  bytes: number
}

const photoColumns = `id::text, owner_id, sha256, bytes::text, content_type, original_key, filename, status,
  reason, width, height, placeholder, created_at, processed_at`

function toPhoto(row: PhotoRow, variants: Variant[] = []): Photo {
  return {
    id: row.id,
    ownerId: row.owner_id,
    sha256: row.sha256.toString('hex'),
    bytes: Number(row.bytes),
    contentType: row.content_type,
    originalKey: row.original_key,
    filename: row.filename,
    status: row.status,
    reason: row.reason,
    width: row.width,
    height: row.height,
    placeholder: row.placeholder,
    createdAt: row.created_at.toISOString(),
    processedAt: row.processed_at?.toISOString() ?? null,
    variants,
  }
}

function toVariant(row: VariantRow): Variant {
  return {
    name: row.name,
    format: row.format,
    objectKey: row.object_key,
    width: row.width,
    height: row.height,
    bytes: row.bytes,
  }
}

export interface NewPhoto {
  ownerId: string
  /** Hex SHA-256 of the original's bytes. */
  sha256: string
  bytes: number
  originalKey: string
  filename?: string | undefined
}

export interface ProcessedPhoto {
  contentType: string
  width: number
  height: number
  placeholder: string
  variants: Variant[]
}

/** A photo id from a path segment: digits only, below 2^63; anything else names no photo. */
export function parsePhotoId(raw: string): string | undefined {
  return /^[1-9][0-9]{0,17}$/.test(raw) ? raw : undefined
}

/**
 * Photos and their variants, on the primary (the photo system has no replica: a photo's status is
 * read right after the worker changed it, and a lagging replica would show `processing` after the
 * SSE stream said `ready`).
 */
export class PhotoRepository {
  readonly #pool: Pick<pg.Pool, 'connect' | 'query'>

  constructor(pool: Pick<pg.Pool, 'connect' | 'query'>) {
    this.#pool = pool
  }

  /**
   * The photo for these bytes of this owner: a new one (`created`), or the one already there — the
   * same file uploaded twice, even concurrently, is one photo (the unique (owner_id, sha256)).
   */
  async createOrFind(p: NewPhoto): Promise<{ photo: Photo; created: boolean }> {
    const sha = Buffer.from(p.sha256, 'hex')
    const inserted = await this.#pool.query<PhotoRow>(
      `INSERT INTO photos (owner_id, sha256, bytes, original_key, filename)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (owner_id, sha256) DO NOTHING
       RETURNING ${photoColumns}`,
      [p.ownerId, sha, p.bytes, p.originalKey, p.filename ?? null],
    )
    const row = inserted.rows[0]
    if (row) return { photo: toPhoto(row), created: true }
    const found = await this.#pool.query<PhotoRow>(
      `SELECT ${photoColumns} FROM photos WHERE owner_id = $1 AND sha256 = $2`,
      [p.ownerId, sha],
    )
    const existing = found.rows[0]
    if (!existing) throw new Error('a conflicting photo vanished between the insert and the select')
    return { photo: await this.#withVariants(toPhoto(existing)), created: false }
  }

  /** The owner's photo, or undefined (unknown id, or another owner's: the same answer). */
  async get(ownerId: string, id: string): Promise<Photo | undefined> {
    const { rows } = await this.#pool.query<PhotoRow>(
      `SELECT ${photoColumns} FROM photos WHERE id = $1 AND owner_id = $2`,
      [id, ownerId],
    )
    const row = rows[0]
    return row ? this.#withVariants(toPhoto(row)) : undefined
  }

  /** Any owner's photo by id: the worker's view. */
  async byId(id: string): Promise<Photo | undefined> {
    const { rows } = await this.#pool.query<PhotoRow>(`SELECT ${photoColumns} FROM photos WHERE id = $1`, [
      id,
    ])
    const row = rows[0]
    return row ? this.#withVariants(toPhoto(row)) : undefined
  }

  /** The owner's photos, newest first, strictly older than `beforeId`; `limit + 1` tells if more follow. */
  async list(ownerId: string, limit: number, beforeId?: string): Promise<{ items: Photo[]; more: boolean }> {
    const { rows } = await this.#pool.query<PhotoRow>(
      `SELECT ${photoColumns} FROM photos
        WHERE owner_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint)
        ORDER BY photos.id DESC LIMIT $3`,
      [ownerId, beforeId ?? null, limit + 1],
    )
    const page = rows.slice(0, limit).map((r) => toPhoto(r))
    const variants = await this.#variantsOf(page.map((p) => p.id))
    return {
      items: page.map((p) => ({ ...p, variants: variants.get(p.id) ?? [] })),
      more: rows.length > limit,
    }
  }

  /**
   * A processed photo, in one transaction: its variants replace any earlier ones (a reprocess),
   * and the photo becomes `ready`. Returns the variants it replaced, whose objects the caller
   * may delete (content-addressed keys: an identical variant keeps its key and is not returned).
   */
  async markReady(id: string, p: ProcessedPhoto): Promise<Variant[]> {
    return withPgClient(this.#pool, async (client) => {
      await client.query('BEGIN')
      try {
        const old = await client.query<VariantRow>(
          'DELETE FROM variants WHERE photo_id = $1 RETURNING photo_id::text, name, format, object_key, width, height, bytes',
          [id],
        )
        for (const v of p.variants) {
          await client.query(
            `INSERT INTO variants (photo_id, name, format, object_key, width, height, bytes)
             VALUES ($1, $2, $3, $4, $5, $6, $7)`,
            [id, v.name, v.format, v.objectKey, v.width, v.height, v.bytes],
          )
        }
        await client.query(
          `UPDATE photos SET status = 'ready', reason = NULL, content_type = $2, width = $3, height = $4,
                  placeholder = $5, processed_at = now()
            WHERE id = $1`,
          [id, p.contentType, p.width, p.height, p.placeholder],
        )
        await client.query('COMMIT')
        const kept = new Set(p.variants.map((v) => v.objectKey))
        return old.rows.map(toVariant).filter((v) => !kept.has(v.objectKey))
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {})
        throw err
      }
    })
  }

  /** A photo that cannot be processed, with the reason its owner will read. */
  async markFailed(id: string, reason: string, contentType?: string): Promise<void> {
    await this.#pool.query(
      `UPDATE photos SET status = 'failed', reason = $2, content_type = coalesce($3, content_type),
              processed_at = now()
        WHERE id = $1`,
      [id, reason, contentType ?? null],
    )
  }

  /**
   * Photos still `processing` that were created before `olderThan`: the reaper enqueues them again
   * (the job id is the photo id, so one whose job is still queued is not doubled) — the repair for
   * an API that died between its insert and its enqueue.
   */
  async staleProcessing(olderThan: Date, limit: number): Promise<Array<{ id: string; ownerId: string }>> {
    const { rows } = await this.#pool.query<{ id: string; owner_id: string }>(
      `SELECT id::text, owner_id FROM photos WHERE status = 'processing' AND created_at < $1
        ORDER BY photos.id LIMIT $2`,
      [olderThan, limit],
    )
    return rows.map((r) => ({ id: r.id, ownerId: r.owner_id }))
  }

  /** Whether the owner has a photo with this variant object (the variant route's check). */
  async ownsVariant(ownerId: string, objectKey: string): Promise<boolean> {
    const { rowCount } = await this.#pool.query(
      `SELECT 1 FROM variants v JOIN photos p ON p.id = v.photo_id
        WHERE v.object_key = $1 AND p.owner_id = $2 LIMIT 1`,
      [objectKey, ownerId],
    )
    return (rowCount ?? 0) > 0
  }

  /**
   * Which of these object keys a photo, a completed upload or a pending one not yet expired refers
   * to (the reaper keeps those; an upload left pending past its expiry protects nothing).
   */
  async referencedKeys(keys: readonly string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set()
    const { rows } = await this.#pool.query<{ key: string }>(
      `SELECT original_key AS key FROM photos WHERE original_key = ANY($1::text[])
       UNION
       SELECT object_key FROM uploads WHERE object_key = ANY($1::text[])
          AND (status = 'completed' OR (status = 'pending' AND expires_at > now()))`,
      [keys],
    )
    return new Set(rows.map((r) => r.key))
  }

  /**
   * Every photo id after `afterId`, in id order, a page at a time: "reprocess all". (`photos.id`,
   * not `id`: ORDER BY a bare name picks the output column, here the text cast, and "10" < "9".)
   */
  async idsAfter(afterId: string, limit: number): Promise<string[]> {
    const { rows } = await this.#pool.query<{ id: string }>(
      'SELECT id::text FROM photos WHERE id > $1::bigint ORDER BY photos.id LIMIT $2',
      [afterId, limit],
    )
    return rows.map((r) => r.id)
  }

  async #withVariants(photo: Photo): Promise<Photo> {
    const variants = await this.#variantsOf([photo.id])
    return { ...photo, variants: variants.get(photo.id) ?? [] }
  }

  async #variantsOf(ids: readonly string[]): Promise<Map<string, Variant[]>> {
    const byPhoto = new Map<string, Variant[]>()
    if (ids.length === 0) return byPhoto
    const { rows } = await this.#pool.query<VariantRow>(
      `SELECT photo_id::text, name, format, object_key, width, height, bytes FROM variants
        WHERE photo_id = ANY($1::bigint[]) ORDER BY photo_id, name, format`,
      [ids],
    )
    for (const row of rows) {
      const list = byPhoto.get(row.photo_id) ?? []
      list.push(toVariant(row))
      byPhoto.set(row.photo_id, list)
    }
    return byPhoto
  }
}
