/**
 * Builds the photo system on real infrastructure for one test: an isolated Postgres schema with
 * the migrations applied, random cache-Redis and BullMQ prefixes, a bucket of its own in S3 — all
 * removed afterwards. The object graphs are the ones server.ts and worker.ts run
 * (createPhotosApi + buildApp, createPhotoWorker).
 *
 *   const h = await photosHarness(t)
 *   const api = await h.startApi()                 // listens on 127.0.0.1:0
 *   await h.startWorker()                          // the lanes, in this process
 *   const res = await upload(api.baseUrl, 'alice', jpegBytes)
 */
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import {
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3'
import { proxies } from '@faultline/infra'
import { createPgPool, createRedis } from '@faultline/kit/clients'
import type { Logger } from '@faultline/kit/logging'
import { createMetrics } from '@faultline/kit/metrics'
import type { AfterHost, TestInfra } from '@faultline/testkit'
import { randomId, testInfra } from '@faultline/testkit'
import { ToxiproxyClient } from '@faultline/toxiproxy'
import type { FastifyInstance } from 'fastify'
import type pg from 'pg'
import { buildApp } from '../src/app.ts'
import { ensureBucket } from '../src/bucket.ts'
import { createPhotosApi } from '../src/components.ts'
import { type Config, loadConfig } from '../src/config.ts'
import { runMigrations } from '../src/migrate.ts'
import type { Mitigations } from '../src/mitigations.ts'
import type { PhotoView } from '../src/routes/views.ts'
import { createS3, s3ClientOptionsOf } from '../src/storage/s3-client.ts'
import { createPhotoWorker } from '../src/worker/components.ts'

export const silentLog = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  fatal() {},
  child() {
    return silentLog
  },
} as unknown as Logger

export interface PhotosHarness {
  infra: TestInfra
  schema: string
  db: pg.Pool
  bucket: string
  s3: S3Client
  env: Record<string, string>
  config(extra?: Record<string, string>, mitigations?: Partial<Mitigations>): Config
  startApi(o?: { env?: Record<string, string>; mitigations?: Partial<Mitigations> }): Promise<{
    app: FastifyInstance
    baseUrl: string
  }>
  startWorker(o?: {
    env?: Record<string, string>
    mitigations?: Partial<Mitigations>
  }): Promise<ReturnType<typeof createPhotoWorker>>
  /** Keys of the objects under `prefix` in the test's bucket. */
  objects(prefix?: string): Promise<string[]>
}

export async function photosHarness(
  t: AfterHost,
  o: { need?: Array<'toxiproxy'> } = {},
): Promise<PhotosHarness> {
  const infra = await testInfra(t, { need: ['postgres', 'redis', 'queueRedis', 's3', ...(o.need ?? [])] })
  const { schema, pool: db } = await infra.schema()
  await runMigrations({ pool: db, schema })
  const id = randomId()
  const bucket = `photos-test-${id}`.toLowerCase()
  const env: Record<string, string> = {
    DATABASE_URL: infra.urls.databaseUrl,
    DB_SCHEMA: schema,
    REDIS_URL: infra.urls.redisUrl,
    REDIS_KEY_PREFIX: `photos-test-${id}`,
    QUEUE_REDIS_URL: infra.urls.queueRedisUrl,
    QUEUE_PREFIX: `photos-test-${id}`,
    S3_ENDPOINT: infra.urls.s3Endpoint,
    S3_BUCKET: bucket,
    MIGRATE_ON_START: 'false',
    LOG_LEVEL: 'silent',
  }
  const base = loadConfig(env)
  // The processes' own client settings (unsigned payloads, S3_TIMEOUT_MS), so tests cover them.
  const s3 = createS3(s3ClientOptionsOf(base.s3))
  await ensureBucket(s3, bucket)
  infra.defer(async () => {
    await emptyBucket(s3, bucket).catch(() => {})
    await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => {})
    s3.destroy()
  })
  const config = (extra: Record<string, string> = {}, mitigations: Partial<Mitigations> = {}): Config => {
    const loaded = loadConfig({ ...env, ...extra })
    return { ...loaded, mitigations: { ...loaded.mitigations, ...mitigations } }
  }
  const poolFor = (c: Config, name: string) =>
    createPgPool(c.databaseUrl, {
      max: 4,
      searchPath: c.dbSchema,
      applicationName: `photos-test-${name}`,
      log: silentLog,
    })
  return {
    infra,
    schema,
    db,
    bucket,
    s3,
    env,
    config,
    async startApi(o = {}) {
      const c = config(o.env, o.mitigations)
      const pool = poolFor(c, 'api')
      const subscriber = createRedis(c.redisUrl, { name: 'photos-test-sub', log: silentLog })
      const api = createPhotosApi(c, { pool, subscriber, s3, log: silentLog })
      const app = await buildApp(api.appDeps)
      infra.defer(async () => {
        await app.close()
        await api.queues.close()
        subscriber.disconnect()
        await pool.end()
      })
      await app.listen({ host: '127.0.0.1', port: 0 })
      return { app, baseUrl: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` }
    },
    async startWorker(o = {}) {
      const c = config(o.env, o.mitigations)
      const pool = poolFor(c, 'worker')
      const redis = createRedis(c.redisUrl, { name: 'photos-test-worker', log: silentLog })
      const worker = createPhotoWorker(c, { pool, redis, s3, metrics: createMetrics(), log: silentLog })
      worker.workers.start()
      infra.defer(async () => {
        await worker.workers.close()
        await worker.sandbox.close()
        // The test's queues go with it: their keys live under the test's QUEUE_PREFIX.
        for (const lane of ['new', 'backfill'] as const)
          await worker.queues.queue(lane).obliterate({ force: true })
        await worker.queues.dead.obliterate({ force: true })
        await worker.queues.close()
        redis.disconnect()
        await pool.end()
      })
      return worker
    },
    async objects(prefix = '') {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))
      return (out.Contents ?? []).map((o) => o.Key ?? '')
    },
  }
}

async function emptyBucket(s3: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket }))
    const keys = (out.Contents ?? []).map((o) => ({ Key: o.Key ?? '' }))
    if (keys.length === 0) return
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }))
  }
}

/** `POST /api/photos` with one file part named `file`. */
export async function upload(
  baseUrl: string,
  owner: string | undefined,
  bytes: Uint8Array,
  filename = 'photo.jpg',
): Promise<{ status: number; body: PhotoView & { code?: string; field?: string }; headers: Headers }> {
  const form = new FormData()
  form.append('file', new Blob([bytes]), filename)
  const res = await fetch(`${baseUrl}/api/photos`, {
    method: 'POST',
    body: form,
    headers: owner === undefined ? {} : { 'x-user-id': owner },
  })
  return { status: res.status, body: (await res.json()) as PhotoView, headers: res.headers }
}

export async function getPhoto(baseUrl: string, owner: string, id: string) {
  const res = await fetch(`${baseUrl}/api/photos/${id}`, { headers: { 'x-user-id': owner } })
  return { status: res.status, body: (await res.json()) as PhotoView & { code?: string } }
}

/** Polls until the photo leaves `processing` (at most `timeoutMs`). */
export async function settled(
  baseUrl: string,
  owner: string,
  id: string,
  timeoutMs = 30_000,
): Promise<PhotoView> {
  const giveUpAt = Date.now() + timeoutMs
  for (;;) {
    const { body } = await getPhoto(baseUrl, owner, id)
    if (body.status !== 'processing') return body
    if (Date.now() > giveUpAt) throw new Error(`photo ${id} still processing after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/**
 * Runs `fn` with S3 taken away: its Toxiproxy proxy disabled (connections refused), enabled again
 * afterwards whatever happens. Changes the shared proxy: run such tests under the infra lock.
 */
export async function withS3Down<T>(h: Pick<PhotosHarness, 'infra'>, fn: () => Promise<T>): Promise<T> {
  const toxiproxy = new ToxiproxyClient({ url: h.infra.urls.toxiproxyUrl })
  const listenPort = (await toxiproxy.proxy(proxies.s3.name)).listen.split(':').at(-1)
  assert.ok(h.infra.urls.s3Endpoint.endsWith(`:${listenPort}`), 'the test reaches S3 through its proxy')
  await toxiproxy.disableProxy(proxies.s3.name)
  try {
    return await fn()
  } finally {
    await toxiproxy.enableProxy(proxies.s3.name)
  }
}
