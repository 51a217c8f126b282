/**
 * The storage module against the real S3 (versitygw, through its Toxiproxy proxy when native),
 * one random bucket per test, deleted after. Run under the infra lock:
 * `flock /tmp/faultline-infra.lock node --test services/photos/test/storage.infra.test.ts`.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3'
import { resolveInfra } from '@faultline/testkit'
import {
  createS3,
  createStorage,
  immutableCacheControl,
  minPartSizeBytes,
  ObjectNotFoundError,
  type Storage,
  StorageRejectedError,
  TooLargeError,
  UploadInterruptedError,
  variantKey,
} from '../src/storage/index.ts'

const MiB = 1024 * 1024

interface Fixture extends Storage {
  bucket: string
  client: ReturnType<typeof createS3>
}

async function storageInRandomBucket(
  t: test.TestContext,
  options: { unsignedPayload?: boolean } = {},
): Promise<Fixture> {
  const infra = await resolveInfra({ need: ['s3'] })
  const client = createS3({
    endpoint: infra.urls.s3Endpoint,
    accessKeyId: infra.env.S3_ACCESS_KEY ?? 'faultline',
    secretAccessKey: infra.env.S3_SECRET_KEY ?? 'faultline-secret',
    ...options,
  })
  const bucket = `photos-test-${randomBytes(5).toString('hex')}`
  await client.send(new CreateBucketCommand({ Bucket: bucket }))
  t.after(async () => {
    await emptyAndDeleteBucket(client, bucket)
    client.destroy()
  })
  return { ...createStorage({ client, bucket }), bucket, client }
}

async function emptyAndDeleteBucket(client: Fixture['client'], bucket: string): Promise<void> {
  const { objects, uploads } = await listBucket(client, bucket)
  for (const key of objects) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))
  const storage = createStorage({ client, bucket })
  for (const u of uploads) await storage.uploads.abortMultipart(u.key, u.uploadId)
  await client.send(new DeleteBucketCommand({ Bucket: bucket }))
}

async function listBucket(client: Fixture['client'], bucket: string) {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }))
  const mpus = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
  return {
    objects: (listed.Contents ?? []).map((o) => o.Key as string),
    uploads: (mpus.Uploads ?? []).map((u) => ({ key: u.Key as string, uploadId: u.UploadId as string })),
  }
}

/**
 * `totalBytes` of deterministic pseudo-random bytes, produced in 64 KiB chunks only as fast as the
 * consumer reads (a pull stream, like a client's socket under backpressure). It records the
 * furthest it ever ran ahead of what S3 had confirmed, through `aheadOf`.
 */
function generatedStream(totalBytes: number, seed: number) {
  const hash = createHash('sha256')
  let produced = 0
  let state = seed >>> 0
  const stats = { maxAheadBytes: 0, storedBytes: 0 }
  const stream = new Readable({
    highWaterMark: 64 * 1024,
    read() {
      if (produced >= totalBytes) {
        this.push(null)
        return
      }
      const size = Math.min(64 * 1024, totalBytes - produced)
      const filled = Buffer.allocUnsafe(Math.ceil(size / 4) * 4)
      for (let i = 0; i < filled.length; i += 4) {
        state = (Math.imul(state, 1664525) + 1013904223) >>> 0
        filled.writeUInt32LE(state, i)
      }
      const chunk = filled.subarray(0, size)
      produced += size
      stats.maxAheadBytes = Math.max(stats.maxAheadBytes, produced - stats.storedBytes)
      hash.update(chunk)
      this.push(chunk)
    },
  })
  return { stream, stats, sha256: () => hash.digest('hex') }
}

test('a ~20 MiB stream becomes one object with its size and SHA-256, never more than 3 parts ahead of S3', async (t) => {
  const s = await storageInRandomBucket(t)
  const totalBytes = 20 * MiB + 12_345
  const source = generatedStream(totalBytes, 7)
  const heapBefore = process.memoryUsage()
  const result = await s.objects.putStream('incoming/u1/big', source.stream, {
    contentType: 'application/octet-stream',
    maxBytes: 64 * MiB,
    onPartStored: (storedBytes) => {
      source.stats.storedBytes = storedBytes
    },
  })
  const heapAfter = process.memoryUsage()
  assert.equal(result.bytes, totalBytes)
  assert.equal(result.sha256, source.sha256())
  assert.match(result.etag, /-5"?$/, 'five parts of 5 MiB: a multipart upload')
  // The bound of the design: queueSize (2) parts in flight + the part being filled. A module that
  // buffered the whole file would run 20 MiB ahead before the first part was confirmed.
  assert.ok(
    source.stats.maxAheadBytes <= 3 * minPartSizeBytes + 256 * 1024,
    `ran ${source.stats.maxAheadBytes} bytes ahead of S3`,
  )
  const head = await s.objects.head('incoming/u1/big')
  assert.equal(head?.bytes, totalBytes)
  assert.equal(head?.contentType, 'application/octet-stream')
  const stored = await s.objects.sha256Of('incoming/u1/big')
  assert.deepEqual(stored, { sha256: result.sha256, bytes: totalBytes })
  assert.deepEqual((await listBucket(s.client, s.bucket)).uploads, [], 'no multipart upload left open')
  t.diagnostic(
    `max ahead of S3: ${(source.stats.maxAheadBytes / MiB).toFixed(1)} MiB; ` +
      `heapUsed Δ ${((heapAfter.heapUsed - heapBefore.heapUsed) / MiB).toFixed(1)} MiB, ` +
      `arrayBuffers Δ ${((heapAfter.arrayBuffers - heapBefore.arrayBuffers) / MiB).toFixed(1)} MiB`,
  )
})

test('a stream shorter than one part is one PutObject with its SHA-256', async (t) => {
  const s = await storageInRandomBucket(t)
  const bytes = randomBytes(100_000)
  const result = await s.objects.putStream('incoming/u1/small', Readable.from([bytes]), {
    contentType: 'image/jpeg',
    maxBytes: 1 * MiB,
  })
  assert.deepEqual(result.bytes, bytes.length)
  assert.equal(result.sha256, createHash('sha256').update(bytes).digest('hex'))
  assert.doesNotMatch(result.etag, /-\d+"?$/)
  assert.equal((await s.objects.head('incoming/u1/small'))?.contentType, 'image/jpeg')
})

test('over maxBytes: TooLargeError, the multipart upload is aborted and no object is left', async (t) => {
  const s = await storageInRandomBucket(t)
  const source = generatedStream(30 * MiB, 3)
  await assert.rejects(
    s.objects.putStream('incoming/u1/too-big', source.stream, {
      contentType: 'image/jpeg',
      maxBytes: 12 * MiB,
    }),
    (error: unknown) =>
      error instanceof TooLargeError && error.statusCode === 413 && error.limitBytes === 12 * MiB,
  )
  assert.ok(source.stream.destroyed, 'the source is not read further')
  assert.deepEqual(await listBucket(s.client, s.bucket), { objects: [], uploads: [] })
  // Exactly the limit is allowed.
  const exact = await s.objects.putStream('incoming/u1/exact', Readable.from([randomBytes(1000)]), {
    contentType: 'image/jpeg',
    maxBytes: 1000,
  })
  assert.equal(exact.bytes, 1000)
})

test('a source that fails mid-upload: UploadInterruptedError, nothing left in S3', async (t) => {
  const s = await storageInRandomBucket(t)
  async function* brokenClient() {
    yield randomBytes(6 * MiB)
    yield randomBytes(1 * MiB)
    throw new Error('client went away')
  }
  await assert.rejects(
    s.objects.putStream('incoming/u1/broken', Readable.from(brokenClient()), {
      contentType: 'image/jpeg',
      maxBytes: 64 * MiB,
    }),
    (error: unknown) => error instanceof UploadInterruptedError && error.statusCode === 400,
  )
  assert.deepEqual(await listBucket(s.client, s.bucket), { objects: [], uploads: [] })
  assert.equal(s.gate.breakerState, 'closed', "a client's failure never counts against S3")
})

/** The object's bytes, read back from S3. */
async function storedBytes(s: Fixture, key: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of await s.objects.getStream(key)) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

test('putDeclared: a stream of exactly the predicted length is one streamed PutObject at its key', async (t) => {
  const s = await storageInRandomBucket(t)
  const source = generatedStream(12 * MiB, 21)
  const result = await s.objects.putDeclared('incoming/u1/one', source.stream, {
    contentType: 'image/jpeg',
    maxBytes: 64 * MiB,
    declaredBytes: 12 * MiB,
    repairKey: 'incoming/u1/one-r',
    stallMs: 5000,
  })
  assert.deepEqual(
    { key: result.key, repaired: result.repaired, bytes: result.bytes, sha256: result.sha256 },
    { key: 'incoming/u1/one', repaired: false, bytes: 12 * MiB, sha256: source.sha256() },
  )
  assert.doesNotMatch(result.etag, /-\d+"?$/, 'one PutObject, not a multipart upload')
  assert.equal((await s.objects.sha256Of('incoming/u1/one')).sha256, result.sha256)
  assert.deepEqual(await listBucket(s.client, s.bucket), { objects: ['incoming/u1/one'], uploads: [] })
})

test('putDeclared: a wrong prediction (shorter, longer, empty) is rewritten at repairKey with the exact bytes', async (t) => {
  const s = await storageInRandomBucket(t)
  const cases = [
    { name: 'shorter', bytes: randomBytes(6 * MiB + 17), declared: 6 * MiB + 300 },
    { name: 'longer', bytes: randomBytes(1000), declared: 998 },
    { name: 'empty', bytes: Buffer.alloc(0), declared: 40 },
  ]
  for (const c of cases) {
    const key = `incoming/u1/${c.name}`
    // In pieces, as a socket delivers them.
    const pieces = [c.bytes.subarray(0, 300), c.bytes.subarray(300)]
    const result = await s.objects.putDeclared(key, Readable.from(pieces), {
      contentType: 'image/jpeg',
      maxBytes: 64 * MiB,
      declaredBytes: c.declared,
      repairKey: `${key}-r`,
      stallMs: 5000,
    })
    assert.equal(result.key, `${key}-r`, c.name)
    assert.equal(result.repaired, true, c.name)
    assert.equal(result.bytes, c.bytes.length, c.name)
    assert.equal(result.sha256, createHash('sha256').update(c.bytes).digest('hex'), c.name)
    assert.ok(
      (await storedBytes(s, `${key}-r`)).equals(c.bytes),
      `${c.name}: the stored bytes are the stream's`,
    )
    assert.equal(await s.objects.head(key), undefined, `${c.name}: the fitted object is deleted`)
  }
  assert.deepEqual((await listBucket(s.client, s.bucket)).uploads, [])
})

test('putDeclared: over maxBytes, or a source that fails: the PUT is aborted and nothing is left', async (t) => {
  const s = await storageInRandomBucket(t)
  const big = generatedStream(30 * MiB, 5)
  await assert.rejects(
    s.objects.putDeclared('incoming/u1/too-big', big.stream, {
      contentType: 'image/jpeg',
      maxBytes: 12 * MiB,
      declaredBytes: 12 * MiB,
      repairKey: 'incoming/u1/too-big-r',
      stallMs: 5000,
    }),
    (error: unknown) => error instanceof TooLargeError && error.statusCode === 413,
  )
  assert.ok(big.stream.destroyed, 'the source is not read further')
  async function* brokenClient() {
    yield randomBytes(3 * MiB)
    throw new Error('client went away')
  }
  await assert.rejects(
    s.objects.putDeclared('incoming/u1/broken', Readable.from(brokenClient()), {
      contentType: 'image/jpeg',
      maxBytes: 64 * MiB,
      declaredBytes: 8 * MiB,
      repairKey: 'incoming/u1/broken-r',
      stallMs: 5000,
    }),
    (error: unknown) => error instanceof UploadInterruptedError && error.statusCode === 400,
  )
  assert.deepEqual(await listBucket(s.client, s.bucket), { objects: [], uploads: [] })
  assert.equal(s.gate.breakerState, 'closed', "a client's failure never counts against S3")
})

test("putDeclared: a client that pauses, or a form that claims more than it sends, fails as the client's (400) without writing its padding", async (t) => {
  const s = await storageInRandomBucket(t)
  const never = new Promise<void>(() => {})
  // Sends 2 MiB, then nothing (the socket stays open).
  const paused = new Readable({ read() {} })
  paused.push(randomBytes(2 * MiB))
  const startedAt = performance.now()
  await assert.rejects(
    s.objects.putDeclared('incoming/u1/paused', paused, {
      contentType: 'image/jpeg',
      maxBytes: 64 * MiB,
      declaredBytes: 8 * MiB,
      repairKey: 'incoming/u1/paused-r',
      stallMs: 400,
    }),
    (error: unknown) =>
      error instanceof UploadInterruptedError && /sent nothing for 400 ms/.test(String(error.cause)),
  )
  t.diagnostic(`paused client failed after ${(performance.now() - startedAt).toFixed(0)} ms`)
  // One byte of file, a Content-Length that promised 8 MiB, and the rest never comes: no 8 MiB of
  // zeros is written for it.
  await assert.rejects(
    s.objects.putDeclared('incoming/u1/claims', Readable.from([Buffer.from('x')]), {
      contentType: 'image/jpeg',
      maxBytes: 64 * MiB,
      declaredBytes: 8 * MiB,
      repairKey: 'incoming/u1/claims-r',
      stallMs: 400,
      bodyComplete: () => never,
    }),
    (error: unknown) =>
      error instanceof UploadInterruptedError && /the rest of the form/.test(String(error.cause)),
  )
  assert.deepEqual(await listBucket(s.client, s.bucket), { objects: [], uploads: [] })
  assert.equal(s.gate.breakerState, 'closed', "a client's pause never counts against S3")
  // The same short file once the rest of the body has arrived: padded, rewritten, stored exactly.
  const ok = await s.objects.putDeclared('incoming/u1/short', Readable.from([Buffer.from('x')]), {
    contentType: 'image/jpeg',
    maxBytes: 64 * MiB,
    declaredBytes: 1 * MiB,
    repairKey: 'incoming/u1/short-r',
    stallMs: 400,
    bodyComplete: async () => {},
  })
  assert.deepEqual([ok.key, ok.bytes], ['incoming/u1/short-r', 1])
  assert.deepEqual((await listBucket(s.client, s.bucket)).objects, ['incoming/u1/short-r'])
})

test('variants: putBuffer at a content-addressed key with immutable caching; head, range, delete', async (t) => {
  const s = await storageInRandomBucket(t)
  const bytes = randomBytes(20_000)
  const key = variantKey(bytes, 'webp')
  assert.equal(key, `variants/${createHash('sha256').update(bytes).digest('hex')}.webp`)
  await s.objects.putBuffer(key, bytes, { contentType: 'image/webp' })
  const url = await s.uploads.presignGet(key, 60)
  const response = await fetch(url)
  assert.equal(response.status, 200)
  assert.equal(response.headers.get('cache-control'), immutableCacheControl)
  assert.deepEqual(Buffer.from(await response.arrayBuffer()), bytes)

  const firstBytes = await s.objects.getStream(key, { start: 0, end: 4095 })
  const chunks: Buffer[] = []
  for await (const chunk of firstBytes) chunks.push(chunk as Buffer)
  assert.deepEqual(Buffer.concat(chunks), bytes.subarray(0, 4096))

  await s.objects.delete(key)
  assert.equal(await s.objects.head(key), undefined)
  await s.objects.delete(key) // deleting a missing object succeeds
  await assert.rejects(s.objects.getStream(key), ObjectNotFoundError)
  await assert.rejects(s.objects.sha256Of(key), ObjectNotFoundError)
  assert.equal(s.gate.breakerState, 'closed', 'a 404 is an answer, not a failure of S3')
})

test('presigned PUT: the exact size and type are accepted; another size or type is refused by S3', async (t) => {
  const s = await storageInRandomBucket(t)
  const bytes = randomBytes(50_000)
  const put = await s.uploads.presignPut('incoming/u1/p1', { contentType: 'image/png', size: bytes.length })
  assert.equal(put.method, 'PUT')
  const wrongSize = await fetch(put.url, {
    method: 'PUT',
    body: randomBytes(50_001),
    headers: { 'content-type': 'image/png' },
  })
  assert.equal(wrongSize.status, 403)
  const wrongType = await fetch(put.url, {
    method: 'PUT',
    body: bytes,
    headers: { 'content-type': 'image/gif' },
  })
  assert.equal(wrongType.status, 403)
  assert.equal(await s.objects.head('incoming/u1/p1'), undefined)

  const ok = await fetch(put.url, { method: 'PUT', body: bytes, headers: put.headers })
  assert.equal(ok.status, 200)
  assert.deepEqual(await s.objects.sha256Of('incoming/u1/p1'), {
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.length,
  })
})

test('presigned multipart: parts PUT to their URLs, completed into one object; wrong ETags are a StorageRejectedError', async (t) => {
  const s = await storageInRandomBucket(t)
  const key = 'incoming/u1/mp'
  const parts = [randomBytes(5 * MiB), randomBytes(300_000)]
  const uploadId = await s.uploads.createMultipart(key, { contentType: 'image/jpeg' })
  const done: { partNumber: number; etag: string }[] = []
  for (const [index, part] of parts.entries()) {
    const url = await s.uploads.presignPart(key, uploadId, index + 1, 60)
    const response = await fetch(url, { method: 'PUT', body: part })
    assert.equal(response.status, 200)
    done.push({ partNumber: index + 1, etag: response.headers.get('etag') ?? '' })
  }
  await assert.rejects(
    s.uploads.completeMultipart(key, uploadId, [{ partNumber: 1, etag: '"0000"' }, done[1] as never]),
    (error: unknown) => error instanceof StorageRejectedError && error.statusCode === 422,
  )
  assert.equal(s.gate.breakerState, 'closed')
  const completed = await s.uploads.completeMultipart(key, uploadId, [...done].reverse())
  assert.match(completed.etag, /-2"?$/)
  const whole = Buffer.concat(parts)
  assert.deepEqual(await s.objects.sha256Of(key), {
    sha256: createHash('sha256').update(whole).digest('hex'),
    bytes: whole.length,
  })
  assert.deepEqual((await listBucket(s.client, s.bucket)).uploads, [])
})

test('listIncompleteMultipart finds uploads under a prefix older than a time, across pages; abort frees them', async (t) => {
  const s = await storageInRandomBucket(t)
  const started: string[] = []
  for (let i = 0; i < 3; i++)
    started.push(await s.uploads.createMultipart(`incoming/u2/${i}`, { contentType: 'image/jpeg' }))
  const elsewhere = await s.uploads.createMultipart('other/x', { contentType: 'image/jpeg' })
  const future = new Date(Date.now() + 60_000)
  const found = await s.uploads.listIncompleteMultipart('incoming/', future, 2)
  assert.deepEqual(found.map((u) => u.uploadId).sort(), [...started].sort())
  assert.ok(found.every((u) => u.initiatedAt instanceof Date))
  assert.deepEqual(await s.uploads.listIncompleteMultipart('incoming/', new Date(Date.now() - 60_000)), [])

  for (const u of found) await s.uploads.abortMultipart(u.key, u.uploadId)
  await s.uploads.abortMultipart('incoming/u2/0', started[0] as string) // already gone: succeeds
  assert.deepEqual(await s.uploads.listIncompleteMultipart('incoming/', future), [])
  assert.equal((await s.uploads.listIncompleteMultipart('other/', future))[0]?.uploadId, elsewhere)
})

test('a client with unsignedPayload: streamed, buffered and presigned uploads still land intact', async (t) => {
  const s = await storageInRandomBucket(t, { unsignedPayload: true })
  const source = generatedStream(7 * MiB, 11)
  const streamed = await s.objects.putStream('incoming/u1/unsigned', source.stream, {
    contentType: 'image/jpeg',
    maxBytes: 64 * MiB,
  })
  assert.equal(streamed.sha256, source.sha256())
  assert.deepEqual(await s.objects.sha256Of('incoming/u1/unsigned'), {
    sha256: streamed.sha256,
    bytes: 7 * MiB,
  })
  const variant = randomBytes(3000)
  await s.objects.putBuffer(variantKey(variant, 'jpeg'), variant, { contentType: 'image/jpeg' })
  assert.equal((await s.objects.head(variantKey(variant, 'jpeg')))?.bytes, 3000)
  const put = await s.uploads.presignPut('incoming/u1/p', { contentType: 'image/png', size: 10 })
  assert.equal(
    (await fetch(put.url, { method: 'PUT', body: randomBytes(10), headers: put.headers })).status,
    200,
  )
  assert.equal(
    (await fetch(put.url, { method: 'PUT', body: randomBytes(11), headers: { 'content-type': 'image/png' } }))
      .status,
    403,
  )
})
