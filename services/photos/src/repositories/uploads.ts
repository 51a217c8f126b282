import type pg from 'pg'

/** How the bytes reach S3: one presigned PUT, presigned multipart parts, or tus. */
export type UploadKind = 'presigned' | 'multipart' | 'tus'
export type UploadStatus = 'pending' | 'completed' | 'aborted'

/** An upload the client fills directly in S3, until it becomes a photo (the `uploads` table). */
export interface Upload {
  /** A UUID: also the last segment of the object key. */
  id: string
  ownerId: string
  kind: UploadKind
  /** `incoming/<owner>/<upload id>`. */
  objectKey: string
  filename: string | null
  declaredSize: number
  declaredContentType: string | null
  /** Hex SHA-256 the client declared, or null. */
  declaredSha256: string | null
  /** S3's UploadId of a multipart upload. */
  s3UploadId: string | null
  status: UploadStatus
  photoId: string | null
  createdAt: Date
  expiresAt: Date
}

export interface NewUpload {
  id: string
  ownerId: string
  kind: UploadKind
  objectKey: string
  filename: string
  declaredSize: number
  declaredContentType: string
  declaredSha256?: string | undefined
  s3UploadId?: string | undefined
  expiresAt: Date
}

type UploadRow = {
  id: string
  owner_id: string
  kind: UploadKind
  object_key: string
  filename: string | null
  declared_size: string
  declared_content_type: string | null
  declared_sha256: Buffer | null
  s3_upload_id: string | null
  status: UploadStatus
  photo_id: string | null
  created_at: Date
  expires_at: Date
}

const uploadColumns = `id::text, owner_id, kind, object_key, filename, declared_size::text, declared_content_type,
  declared_sha256, s3_upload_id, status, photo_id::text, created_at, expires_at`

function toUpload(row: UploadRow): Upload {
  return {
    id: row.id,
    ownerId: row.owner_id,
    kind: row.kind,
    objectKey: row.object_key,
    filename: row.filename,
    declaredSize: Number(row.declared_size),
    declaredContentType: row.declared_content_type,
    declaredSha256: row.declared_sha256?.toString('hex') ?? null,
    s3UploadId: row.s3_upload_id,
    status: row.status,
    photoId: row.photo_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  }
}

/** An upload id from a path segment: a UUID; anything else names no upload. */
export function parseUploadId(raw: string): string | undefined {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(raw)
    ? raw.toLowerCase()
    : undefined
}

/** The `uploads` rows of presigned (and multipart) uploads, on the primary. */
export class UploadRepository {
  readonly #pool: Pick<pg.Pool, 'query'>

  constructor(pool: Pick<pg.Pool, 'query'>) {
    this.#pool = pool
  }

  async create(u: NewUpload): Promise<Upload> {
    const { rows } = await this.#pool.query<UploadRow>(
      `INSERT INTO uploads (id, owner_id, kind, object_key, filename, declared_size, declared_content_type,
                            declared_sha256, s3_upload_id, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       RETURNING ${uploadColumns}`,
      [
        u.id,
        u.ownerId,
        u.kind,
        u.objectKey,
        u.filename,
        u.declaredSize,
        u.declaredContentType,
        u.declaredSha256 ? Buffer.from(u.declaredSha256, 'hex') : null,
        u.s3UploadId ?? null,
        u.expiresAt,
      ],
    )
    return toUpload(rows[0] as UploadRow)
  }

  /** The owner's upload, or undefined (unknown id, or another owner's: the same answer). */
  async get(ownerId: string, id: string): Promise<Upload | undefined> {
    const { rows } = await this.#pool.query<UploadRow>(
      `SELECT ${uploadColumns} FROM uploads WHERE id = $1 AND owner_id = $2`,
      [id, ownerId],
    )
    const row = rows[0]
    return row ? toUpload(row) : undefined
  }

  /**
   * The upload became this photo. Only a pending upload changes: two concurrent completions of
   * one upload find the same photo (dedupe by content hash), so whichever writes first is right.
   */
  async markCompleted(id: string, photoId: string): Promise<void> {
    await this.#pool.query(
      `UPDATE uploads SET status = 'completed', photo_id = $2 WHERE id = $1 AND status = 'pending'`,
      [id, photoId],
    )
  }
}
