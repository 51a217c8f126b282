/**
 * The reaper on real Postgres, S3 and the queue Redis: a photo stuck in `processing` (its API
 * died between the insert and the enqueue) is enqueued again and processed; an incomplete
 * multipart upload and an orphaned object past UPLOAD_TTL_S are removed, their bytes counted;
 * what a photo refers to is kept.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3'
import sharp from 'sharp'
import { reapOnce } from '../src/reaper/reap.ts'
import { PhotoRepository } from '../src/repositories/photos.ts'
import { PresignedUploads } from '../src/storage/presigned-uploads.ts'
import { photosHarness, settled, silentLog } from './helpers.ts'

test('a stuck photo is enqueued again and processed; expired orphans and multipart uploads are removed', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi()
  const worker = await h.startWorker()
  const photos = new PhotoRepository(h.db)

  // An acknowledged upload whose job was never enqueued: the object and the row, no job.
  const bytes = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#444' } })
    .jpeg()
    .toBuffer()
  const stuckKey = 'incoming/frank/stuck'
  await h.s3.send(new PutObjectCommand({ Bucket: h.bucket, Key: stuckKey, Body: bytes }))
  const { photo } = await photos.createOrFind({
    ownerId: 'frank',
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.length,
    originalKey: stuckKey,
  })
  // An orphan (no row refers to it) and an incomplete multipart upload.
  await h.s3.send(
    new PutObjectCommand({ Bucket: h.bucket, Key: 'incoming/frank/orphan', Body: Buffer.alloc(1234) }),
  )
  // An incomplete multipart upload holding one part of 5 MiB, invisible and billed.
  const partial = await h.s3.send(
    new CreateMultipartUploadCommand({ Bucket: h.bucket, Key: 'incoming/frank/partial' }),
  )
  await h.s3.send(
    new UploadPartCommand({
      Bucket: h.bucket,
      Key: 'incoming/frank/partial',
      UploadId: partial.UploadId,
      PartNumber: 1,
      Body: Buffer.alloc(5 * 1024 * 1024),
    }),
  )
  // A tus upload that became the photo: its `.info` expires with the upload, not an orphan.
  await h.s3.send(
    new PutObjectCommand({ Bucket: h.bucket, Key: `${stuckKey}.info`, Body: Buffer.from('{"id":"x"}') }),
  )

  const deps = {
    photos,
    queues: worker.queues,
    gate: worker.gate,
    store: worker.store,
    accept: {
      photos,
      queues: worker.queues,
      deleteObject: (key: string) => worker.store.delete(key),
      log: silentLog,
    },
    uploads: new PresignedUploads(worker.gate),
    uploadTtlMs: 60_000,
  }
  // Now: nothing is old enough for any of the three steps.
  assert.deepEqual(await reapOnce(deps), {
    requeued: 0,
    tusRecovered: 0,
    abortedMultipart: 0,
    orphansDeleted: 0,
    orphanBytes: 0,
    tusInfoExpired: 0,
  })
  assert.equal((await settled(baseUrl, 'frank', photo.id, 500).catch(() => undefined))?.status, undefined)

  // Two minutes later (the reaper's clock moved on): all three.
  const later = new Date(Date.now() + 120_000)
  const result = await reapOnce(deps, later)
  assert.deepEqual(result, {
    requeued: 1,
    tusRecovered: 0,
    abortedMultipart: 1,
    orphansDeleted: 1,
    orphanBytes: 1234 + 5 * 1024 * 1024,
    tusInfoExpired: 1,
  })
  assert.equal((await settled(baseUrl, 'frank', photo.id)).status, 'ready')
  const left = await h.objects('incoming/')
  assert.ok(left.includes(stuckKey), 'the photo’s original is kept')
  assert.ok(!left.includes('incoming/frank/orphan'))
  assert.ok(!left.includes(`${stuckKey}.info`), 'the finished upload’s .info expired with it')
  assert.deepEqual(await deps.uploads.listIncompleteMultipart('incoming/', later), [])
  // A second pass finds nothing more, and enqueuing the processed photo again does not double it.
  assert.equal((await reapOnce(deps, later)).orphansDeleted, 0)
})
