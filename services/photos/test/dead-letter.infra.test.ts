/**
 * The deadLetter switch on real Postgres, S3 and the queue Redis, with a job that can never
 * succeed and is not the image's fault (its original was deleted from S3: ObjectNotFoundError,
 * retried like an outage). On: after JOB_ATTEMPTS it is in `photos-dead` with the reason, the
 * photo `failed` with a reason its owner can read, and it is counted. Off (pm17's naive): it is
 * still being retried after more than JOB_ATTEMPTS attempts, the photo still `processing`.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DeleteObjectCommand } from '@aws-sdk/client-s3'
import { createPgPool, createRedis } from '@faultline/kit/clients'
import { createMetrics, type Metrics } from '@faultline/kit/metrics'
import sharp from 'sharp'
import type { Mitigations } from '../src/mitigations.ts'
import { jobIdOf } from '../src/queue/lanes.ts'
import { PhotoRepository } from '../src/repositories/photos.ts'
import { createPhotoWorker } from '../src/worker/components.ts'
import { getPhoto, type PhotosHarness, photosHarness, settled, silentLog, upload } from './helpers.ts'

const attempts = 3
// Attempts and backoff are fixed when the job is added: the API's (the enqueuer's) env counts.
const fastRetries = { JOB_ATTEMPTS: String(attempts), JOB_BACKOFF_MS: '10' }

/**
 * The harness's worker, with a metrics registry the test can read (photos_jobs_total). Its
 * queues' keys go with the test's QUEUE_PREFIX.
 */
async function startCountedWorker(h: PhotosHarness, mitigations: Partial<Mitigations>) {
  const c = h.config(fastRetries, mitigations)
  const pool = createPgPool(c.databaseUrl, { max: 4, searchPath: c.dbSchema, log: silentLog })
  const redis = createRedis(c.redisUrl, { name: 'photos-test-dead-letter', log: silentLog })
  const metrics = createMetrics()
  const worker = createPhotoWorker(c, { pool, redis, s3: h.s3, metrics, log: silentLog })
  worker.workers.start()
  h.infra.defer(async () => {
    await worker.workers.close()
    await worker.sandbox.close()
    for (const lane of ['new', 'backfill'] as const)
      await worker.queues.queue(lane).obliterate({ force: true })
    await worker.queues.dead.obliterate({ force: true })
    await worker.queues.close()
    redis.disconnect()
    await pool.end()
  })
  return { ...worker, metrics }
}

async function jobsCounted(metrics: Metrics, outcome: string): Promise<number> {
  const counter = metrics.registry.getSingleMetric('photos_jobs_total')
  const values = (await counter?.get())?.values ?? []
  return values.find((v) => v.labels.lane === 'new' && v.labels.outcome === outcome)?.value ?? 0
}

/** A photo uploaded through the API whose original is then deleted from S3. */
async function photoWithoutOriginal(h: PhotosHarness, baseUrl: string, owner: string): Promise<string> {
  const bytes = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#a33' } })
    .jpeg()
    .toBuffer()
  const created = await upload(baseUrl, owner, bytes)
  assert.equal(created.status, 201)
  const photo = await new PhotoRepository(h.db).byId(created.body.id)
  assert.ok(photo)
  await h.s3.send(new DeleteObjectCommand({ Bucket: h.bucket, Key: photo.originalKey }))
  return created.body.id
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

test('deadLetter on: a job failing every attempt goes to photos-dead with its reason, the photo failed', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi({ env: fastRetries })
  const id = await photoWithoutOriginal(h, baseUrl, 'ivan')
  const worker = await startCountedWorker(h, {})

  const failed = await settled(baseUrl, 'ivan', id)
  assert.equal(failed.status, 'failed')
  assert.match(
    failed.reason ?? '',
    new RegExp(`^processing failed ${attempts} times: no object at incoming/ivan/`),
  )

  const job = await worker.queues.queue('new').getJob(jobIdOf('new', id))
  assert.equal(job?.attemptsMade, attempts, 'every attempt was made, no more')
  assert.equal(await job?.getState(), 'failed')
  const dead = await worker.queues.dead.getJobs(['waiting', 'prioritized', 'delayed'])
  assert.equal(dead.length, 1)
  assert.deepEqual(
    { photoId: dead[0]?.data.photoId, lane: dead[0]?.data.lane, jobId: dead[0]?.data.jobId },
    { photoId: id, lane: 'new', jobId: jobIdOf('new', id) },
  )
  assert.equal(dead[0]?.data.reason, failed.reason, 'the dead letter carries the reason the owner reads')
  await until(
    'the dead letter is counted',
    async () => (await jobsCounted(worker.metrics, 'dead_lettered')) === 1,
  )
})

test('deadLetter off: the same job is still retried after more than JOB_ATTEMPTS attempts', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi({ env: fastRetries, mitigations: { deadLetter: false } })
  const id = await photoWithoutOriginal(h, baseUrl, 'judy')
  const worker = await startCountedWorker(h, { deadLetter: false })
  const queue = worker.queues.queue('new')

  await until(`attempt ${attempts + 2} of the job`, async () => {
    const job = await queue.getJob(jobIdOf('new', id))
    return (job?.attemptsMade ?? 0) >= attempts + 2
  })
  const job = await queue.getJob(jobIdOf('new', id))
  assert.ok((job?.attemptsMade ?? 0) > attempts)
  assert.ok((job?.opts.attempts ?? 0) > attempts, 'attempts were unbounded when it was enqueued')
  assert.notEqual(await job?.getState(), 'failed', 'BullMQ will run it again')
  assert.equal((await getPhoto(baseUrl, 'judy', id)).body.status, 'processing')
  assert.equal(await worker.queues.dead.count(), 0, 'nothing was dead-lettered')
  assert.equal(await jobsCounted(worker.metrics, 'dead_lettered'), 0)
})
