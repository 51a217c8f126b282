/**
 * The photo system's state as experiments see it (docs/lab.md §4): an isolated world — a Postgres
 * schema, cache and queue Redis prefixes and a bucket no other run uses — its one reset, and the
 * counts invariants read. Functions take plain clients (`{ pg, redis, queueRedis, s3 }`: the lab's
 * context is one), so nothing here depends on the lab, and chaos/ never names a table or a key.
 */
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { Keys, type Lane } from './keys.ts'
import { jobIdOf } from './queue/lanes.ts'

export interface FixtureClients {
  pg: pg.Pool
  redis: Redis
  queueRedis: Redis
  s3: S3Client
}

export interface PhotoState {
  id: string
  ownerId: string
  status: 'processing' | 'ready' | 'failed'
  reason: string | null
  variants: number
}

export interface StatusCounts {
  total: number
  processing: number
  ready: number
  failed: number
  /** Failed photos without a reason a user can read (must stay 0). */
  failedWithoutReason: number
}

export interface PhotosFixtureOptions {
  /**
   * Names an isolated world: schema `lab_<name>`, prefixes and bucket `lab-<name>`. Without it, the
   * service's defaults (`photos` everywhere), which `reset` refuses to remove.
   */
  name?: string
}

const namePattern = /^[a-z][a-z0-9]{0,30}$/

export class PhotosFixture {
  readonly schema: string
  readonly bucket: string
  readonly keys: Keys
  /** Env of every process of the world (`experiment.env`). */
  readonly env: Record<string, string>

  readonly isolated: boolean

  constructor(o: PhotosFixtureOptions = {}) {
    if (o.name !== undefined && !namePattern.test(o.name))
      throw new TypeError(`fixture name ${o.name} must match ${namePattern}`)
    this.isolated = o.name !== undefined
    this.schema = o.name === undefined ? 'photos' : `lab_${o.name}`
    this.bucket = o.name === undefined ? 'photos' : `lab-${o.name}`
    const prefix = o.name === undefined ? 'photos' : `lab-${o.name}`
    this.keys = new Keys(prefix, prefix)
    this.env = {
      DB_SCHEMA: this.schema,
      REDIS_KEY_PREFIX: this.keys.prefix,
      QUEUE_PREFIX: this.keys.queuePrefix,
      S3_BUCKET: this.bucket,
    }
  }

  /**
   * Before the services start: the world's tables (the processes migrate them back at start), its
   * queues and cache keys, and its objects. Returns what was removed.
   */
  async reset(c: FixtureClients): Promise<{ photos: number; keys: number; objects: number }> {
    if (!this.isolated) throw new TypeError('reset removes a whole world: only a named (isolated) one')
    const photos = await this.#photoCount(c.pg)
    await c.pg.query(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`)
    const keys =
      (await unlinkMatching(c.queueRedis, `${this.keys.queuePrefix}:*`)) +
      (await unlinkMatching(c.redis, this.keys.all()))
    const objects = await emptyBucket(c.s3, this.bucket)
    return { photos, keys, objects }
  }

  /** Every photo of owners starting with `ownerPrefix`, oldest first. */
  async photos(db: pg.Pool, ownerPrefix: string): Promise<PhotoState[]> {
    const { rows } = await db.query<PhotoState>(
      `SELECT p.id::text AS id, p.owner_id AS "ownerId", p.status, p.reason,
              (SELECT count(*)::int FROM ${this.schema}.variants v WHERE v.photo_id = p.id) AS variants
         FROM ${this.schema}.photos p
        WHERE starts_with(p.owner_id, $1)
        ORDER BY p.id`,
      [ownerPrefix],
    )
    return rows
  }

  /** Photos of owners starting with `ownerPrefix` by status. */
  async statusCounts(db: pg.Pool, ownerPrefix: string): Promise<StatusCounts> {
    const photos = await this.photos(db, ownerPrefix)
    const of = (s: PhotoState['status']) => photos.filter((p) => p.status === s).length
    return {
      total: photos.length,
      processing: of('processing'),
      ready: of('ready'),
      failed: of('failed'),
      failedWithoutReason: photos.filter((p) => p.status === 'failed' && !p.reason).length,
    }
  }

  /**
   * Deletes a photo's original from S3 behind the service's back: every processing attempt of it
   * then fails reading it (an error that is not the image's fault, so it is retried) — pm17's
   * poison. Returns the key removed.
   */
  async removeOriginal(c: Pick<FixtureClients, 'pg' | 's3'>, photoId: string): Promise<string> {
    const { rows } = await c.pg.query<{ key: string }>(
      `SELECT original_key AS key FROM ${this.schema}.photos WHERE id = $1`,
      [photoId],
    )
    const key = rows[0]?.key
    if (key === undefined) throw new Error(`no photo ${photoId} in ${this.schema}`)
    await c.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }))
    return key
  }

  /**
   * Photos of owners starting with `ownerPrefix` whose original is not in S3 (read from S3 itself,
   * one listing of `incoming/`): acknowledged uploads without their bytes — pm08's "201 without a
   * durable object".
   */
  async originalsMissing(c: Pick<FixtureClients, 'pg' | 's3'>, ownerPrefix: string): Promise<string[]> {
    const { rows } = await c.pg.query<{ id: string; key: string }>(
      `SELECT id::text AS id, original_key AS key FROM ${this.schema}.photos
        WHERE starts_with(owner_id, $1) ORDER BY id`,
      [ownerPrefix],
    )
    const stored = new Set<string>()
    let token: string | undefined
    do {
      const listed = await c.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: 'incoming/', ContinuationToken: token }),
      )
      for (const o of listed.Contents ?? []) if (o.Key) stored.add(o.Key)
      token = listed.NextContinuationToken
    } while (token !== undefined)
    return rows.filter((r) => !stored.has(r.key)).map((r) => r.id)
  }

  /**
   * How many times BullMQ has run a photo's job and seen it fail (its `attemptsMade`), or
   * undefined when the job is gone (completed jobs are removed).
   */
  async jobAttempts(queueRedis: Redis, photoId: string, lane: Lane = 'new'): Promise<number | undefined> {
    const key = `${this.keys.queuePrefix}:${this.keys.queue(lane)}:${jobIdOf(lane, photoId)}`
    const [made] = await queueRedis.hmget(key, 'atm')
    if (made === null || made === undefined) return (await queueRedis.exists(key)) ? 0 : undefined
    return Number(made)
  }

  /** Jobs waiting in the dead-letter queue, with the photo and reason each carries. */
  async deadLetters(queueRedis: Redis): Promise<Array<{ photoId: string; reason: string }>> {
    const base = `${this.keys.queuePrefix}:${this.keys.deadLetterQueue()}`
    const ids = await queueRedis.lrange(`${base}:wait`, 0, -1)
    const out: Array<{ photoId: string; reason: string }> = []
    for (const id of ids) {
      const data = await queueRedis.hget(`${base}:${id}`, 'data')
      if (data === null) continue
      const parsed = JSON.parse(data) as { photoId?: string; reason?: string }
      out.push({ photoId: String(parsed.photoId), reason: String(parsed.reason ?? '') })
    }
    return out
  }

  async #photoCount(db: pg.Pool): Promise<number> {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'photos'`,
      [this.schema],
    )
    if ((rows[0]?.n ?? 0) === 0) return 0
    const counted = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.schema}.photos`)
    return counted.rows[0]?.n ?? 0
  }
}

async function unlinkMatching(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0'
  let removed = 0
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) removed += await redis.unlink(...keys)
  } while (cursor !== '0')
  return removed
}

/** Deletes every object of the bucket (nothing when it does not exist yet). */
async function emptyBucket(s3: S3Client, bucket: string): Promise<number> {
  let removed = 0
  let token: string | undefined
  do {
    let listed: ListObjectsV2CommandOutput
    try {
      listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }))
    } catch (err) {
      if ((err as Error).name === 'NoSuchBucket') return removed
      throw err
    }
    const keys = (listed.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []))
    if (keys.length > 0) {
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }))
      removed += keys.length
    }
    token = listed.NextContinuationToken
  } while (token !== undefined)
  return removed
}

/** The default world's fixture (reads only); an experiment makes its own: `new PhotosFixture({ name })`. */
export const fixture = new PhotosFixture()
