/**
 * Presigned uploads end to end on real Postgres, Redis and S3: the API signs, the test PUTs the
 * bytes straight to S3 with `fetch` (as a browser would), then completes — the object is checked
 * (size, SHA-256) before it becomes a photo, which the worker then processes. Run under the lock:
 * `flock /tmp/faultline-infra.lock node --test services/photos/test/uploads.infra.test.ts`.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { test } from 'node:test'
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3'
import { proxies } from '@faultline/infra'
import { ToxiproxyClient } from '@faultline/toxiproxy'
import sharp from 'sharp'
import type { PhotoView } from '../src/routes/views.ts'
import type { StartedUpload } from '../src/uploads/presigned.ts'
import { getPhoto, type PhotosHarness, photosHarness, settled, upload } from './helpers.ts'

const MiB = 1024 * 1024
/** Multipart above 5 MiB, in parts of 5 MiB (S3's minimum): 12 MiB is three parts. */
const smallMultipart = {
  PRESIGN_MULTIPART_THRESHOLD_BYTES: String(5 * MiB),
  PRESIGN_PART_BYTES: String(5 * MiB),
}

type ErrorBody = { code?: string; field?: string; message?: string }
type Answer<T> = { status: number; body: T & ErrorBody; headers: Headers }

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

async function post<T>(url: string, owner: string | undefined, body?: unknown): Promise<Answer<T>> {
  const headers: Record<string, string> = owner === undefined ? {} : { 'x-user-id': owner }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(url, {
    method: 'POST',
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: res.status, body: (await res.json()) as T & ErrorBody, headers: res.headers }
}

function createUpload(baseUrl: string, owner: string | undefined, body: unknown) {
  return post<StartedUpload>(`${baseUrl}/api/uploads`, owner, body)
}

function complete(baseUrl: string, owner: string, id: string, body?: unknown) {
  return post<PhotoView>(`${baseUrl}/api/uploads/${id}/complete`, owner, body)
}

type SinglePut = Extract<StartedUpload, { method: 'PUT' }>
type Multipart = Extract<StartedUpload, { multipart: unknown }>

/** The PUT a client makes with what POST /api/uploads gave it. */
async function putToS3(started: SinglePut, bytes: Uint8Array): Promise<number> {
  const res = await fetch(started.url, { method: 'PUT', body: bytes, headers: started.headers })
  await res.arrayBuffer()
  return res.status
}

/** Each slice to its part URL; returns the `{partNumber, etag}` list the completion needs. */
async function putParts(started: Multipart, slices: Uint8Array[]) {
  const done: Array<{ partNumber: number; etag: string }> = []
  for (const [i, slice] of slices.entries()) {
    const part = started.multipart.parts[i]
    assert.ok(part, `a URL for part ${i + 1}`)
    const res = await fetch(part.url, { method: 'PUT', body: slice })
    await res.arrayBuffer()
    assert.equal(res.status, 200, `part ${part.partNumber} accepted by S3`)
    done.push({ partNumber: part.partNumber, etag: res.headers.get('etag') ?? '' })
  }
  return done
}

async function uploadRow(h: PhotosHarness, id: string) {
  const { rows } = await h.db.query<{ status: string; photo_id: string | null; kind: string }>(
    `SELECT status, photo_id::text, kind FROM "${h.schema}".uploads WHERE id = $1`,
    [id],
  )
  return rows[0]
}

async function photoCount(h: PhotosHarness): Promise<number> {
  const { rows } = await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${h.schema}".photos`)
  return rows[0]?.n ?? -1
}

function jpeg(width = 300, height = 200): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#a52' } })
    .jpeg()
    .toBuffer()
}

test('presigned PUT: signed, PUT straight to S3, completed into a photo that is processed; completing again is the same photo', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi()
  await h.startWorker()
  const bytes = await jpeg()

  const started = await createUpload(baseUrl, 'alice', {
    filename: 'dog.jpg',
    size: bytes.length,
    contentType: 'image/jpeg',
    sha256: sha256(bytes),
  })
  assert.equal(started.status, 201, JSON.stringify(started.body))
  const put = started.body as SinglePut
  assert.equal(put.method, 'PUT')
  assert.ok(put.url.startsWith(h.env.S3_ENDPOINT ?? '-'), `${put.url} is on the S3 endpoint`)
  assert.deepEqual(put.headers, { 'content-type': 'image/jpeg', 'content-length': String(bytes.length) })
  assert.ok(Date.parse(put.expiresAt) > Date.now())
  assert.equal((await uploadRow(h, put.id))?.status, 'pending')

  assert.equal(await putToS3(put, bytes), 200)
  assert.equal(
    (await complete(baseUrl, 'mallory', put.id)).status,
    404,
    "another owner's upload is not found",
  )
  const done = await complete(baseUrl, 'alice', put.id)
  assert.equal(done.status, 201, JSON.stringify(done.body))
  assert.equal(done.body.status, 'processing')
  assert.equal(done.body.filename, 'dog.jpg')
  assert.equal(done.body.sha256, sha256(bytes))
  assert.equal(done.body.bytes, bytes.length)
  assert.deepEqual(await h.objects('incoming/alice/'), [`incoming/alice/${put.id}`])
  assert.deepEqual(await uploadRow(h, put.id), {
    status: 'completed',
    photo_id: done.body.id,
    kind: 'presigned',
  })

  const again = await complete(baseUrl, 'alice', put.id)
  assert.equal(again.status, 200)
  assert.equal(again.body.id, done.body.id)
  assert.equal(await photoCount(h), 1)

  const ready = await settled(baseUrl, 'alice', done.body.id)
  assert.equal(ready.status, 'ready', JSON.stringify(ready))
  assert.equal(ready.contentType, 'image/jpeg')
  assert.deepEqual([ready.width, ready.height], [300, 200])
  assert.ok(ready.variants.thumb?.webp)
  assert.equal((await getPhoto(baseUrl, 'mallory', done.body.id)).status, 404)
})

test('presigned multipart: parts PUT to their URLs, completed, verified, one photo; nothing left open', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi({ env: smallMultipart })
  const bytes = randomBytes(12 * MiB)

  const started = await createUpload(baseUrl, 'bob', {
    filename: 'big.jpg',
    size: bytes.length,
    contentType: 'image/jpeg',
    sha256: sha256(bytes),
  })
  assert.equal(started.status, 201, JSON.stringify(started.body))
  const mp = started.body as Multipart
  assert.equal(mp.multipart.partSize, 5 * MiB)
  assert.deepEqual(
    mp.multipart.parts.map((p) => p.partNumber),
    [1, 2, 3],
  )
  assert.equal((await uploadRow(h, mp.id))?.kind, 'multipart')

  const slices = [0, 1, 2].map((i) => bytes.subarray(i * 5 * MiB, Math.min(bytes.length, (i + 1) * 5 * MiB)))
  const parts = await putParts(mp, slices)
  const noParts = await complete(baseUrl, 'bob', mp.id)
  assert.equal(noParts.status, 400)
  assert.equal(noParts.body.field, 'body.parts')

  const done = await complete(baseUrl, 'bob', mp.id, { parts: [...parts].reverse() })
  assert.equal(done.status, 201, JSON.stringify(done.body))
  assert.equal(done.body.bytes, 12 * MiB)
  assert.equal(done.body.sha256, sha256(bytes))
  assert.deepEqual(await h.objects('incoming/bob/'), [`incoming/bob/${mp.id}`])

  const again = await complete(baseUrl, 'bob', mp.id, { parts })
  assert.equal(again.status, 200)
  assert.equal(again.body.id, done.body.id)
  const open = await h.s3.send(new ListMultipartUploadsCommand({ Bucket: h.bucket }))
  assert.deepEqual(open.Uploads ?? [], [], 'no multipart upload left open')
})

test('an object that contradicts its declaration is a 422 naming the field, deleted, and no photo', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi({ env: smallMultipart })

  // Size: a PUT's URL signs content-length, so only a multipart upload can deliver another size.
  const declared = randomBytes(12 * MiB)
  const mp = (
    await createUpload(baseUrl, 'carol', {
      filename: 'a.png',
      size: declared.length,
      contentType: 'image/png',
    })
  ).body as Multipart
  const short = [declared.subarray(0, 5 * MiB), declared.subarray(5 * MiB, 10 * MiB), randomBytes(MiB)]
  const parts = await putParts(mp, short)
  const wrongSize = await complete(baseUrl, 'carol', mp.id, { parts })
  assert.equal(wrongSize.status, 422, JSON.stringify(wrongSize.body))
  assert.equal(wrongSize.body.code, 'PHOTOS_ERR_UPLOAD_MISMATCH')
  assert.equal(wrongSize.body.field, 'body.size')
  assert.match(wrongSize.body.message ?? '', /11534336 bytes.*12582912/)
  assert.deepEqual(await h.objects('incoming/carol/'), [], 'the wrong object is deleted')
  const gone = await complete(baseUrl, 'carol', mp.id, { parts })
  assert.equal(gone.status, 409, 'its multipart upload was used up: nothing left to complete')
  assert.equal(gone.body.code, 'PHOTOS_ERR_UPLOAD_INCOMPLETE')

  // SHA-256: the right size, other bytes. The upload stays pending: the right bytes PUT again complete it.
  const good = await jpeg(40, 30)
  const put = (
    await createUpload(baseUrl, 'carol', {
      filename: 'b.jpg',
      size: good.length,
      contentType: 'image/jpeg',
      sha256: sha256(good).toUpperCase(),
    })
  ).body as SinglePut
  const before = await complete(baseUrl, 'carol', put.id)
  assert.equal(before.status, 409, 'nothing was PUT yet')
  assert.equal(before.body.field, 'params.id')
  assert.equal(await putToS3(put, randomBytes(good.length)), 200)
  const wrongHash = await complete(baseUrl, 'carol', put.id)
  assert.equal(wrongHash.status, 422, JSON.stringify(wrongHash.body))
  assert.equal(wrongHash.body.field, 'body.sha256')
  assert.deepEqual(await h.objects('incoming/carol/'), [])
  assert.equal(await photoCount(h), 0, 'no photo from either refused upload')
  assert.equal((await uploadRow(h, put.id))?.status, 'pending')

  assert.equal(await putToS3(put, good), 200)
  const fixed = await complete(baseUrl, 'carol', put.id)
  assert.equal(fixed.status, 201, JSON.stringify(fixed.body))
  assert.equal(fixed.body.sha256, sha256(good))
})

test("the owner's bytes already a photo: completing answers 200 with it and drops the new copy", async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi()
  const bytes = await jpeg(50, 50)
  const direct = await upload(baseUrl, 'dave', bytes)
  assert.equal(direct.status, 201)
  const put = (
    await createUpload(baseUrl, 'dave', { filename: 'x.jpg', size: bytes.length, contentType: 'image/jpeg' })
  ).body as SinglePut
  assert.equal(await putToS3(put, bytes), 200)
  const done = await complete(baseUrl, 'dave', put.id)
  assert.equal(done.status, 200)
  assert.equal(done.body.id, direct.body.id)
  const objects = await h.objects('incoming/dave/')
  assert.equal(objects.length, 1)
  assert.notEqual(
    objects[0],
    `incoming/dave/${put.id}`,
    "the upload's copy is deleted, the photo's original kept",
  )
  assert.equal((await complete(baseUrl, 'dave', put.id)).body.id, direct.body.id)
})

test('bad bodies are a 400 naming the field (413 for a size over the limit); unknown or expired ids a 404', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi({ env: { ...smallMultipart, MAX_UPLOAD_BYTES: String(20 * MiB) } })
  const valid = { filename: 'a.jpg', size: 1000, contentType: 'image/jpeg' }

  const anonymous = await createUpload(baseUrl, undefined, valid)
  assert.equal(anonymous.status, 400)
  assert.equal(anonymous.body.field, 'headers.x-user-id')
  const cases: Array<[unknown, number, string]> = [
    [{}, 400, 'body.filename'],
    [[valid], 400, 'body.filename'],
    [{ ...valid, filename: '' }, 400, 'body.filename'],
    [{ ...valid, filename: 'a\nb.jpg' }, 400, 'body.filename'],
    [{ ...valid, filename: 'x'.repeat(256) }, 400, 'body.filename'],
    [{ ...valid, size: undefined }, 400, 'body.size'],
    [{ ...valid, size: '1000' }, 400, 'body.size'],
    [{ ...valid, size: 0 }, 400, 'body.size'],
    [{ ...valid, size: 10.5 }, 400, 'body.size'],
    [{ ...valid, size: 20 * MiB + 1 }, 413, 'body.size'],
    [{ ...valid, contentType: undefined }, 400, 'body.contentType'],
    [{ ...valid, contentType: 'text/html' }, 400, 'body.contentType'],
    [{ ...valid, contentType: 'image/' }, 400, 'body.contentType'],
    [{ ...valid, sha256: 'abc' }, 400, 'body.sha256'],
    [{ ...valid, sha256: 'g'.repeat(64) }, 400, 'body.sha256'],
  ]
  for (const [body, status, field] of cases) {
    const res = await createUpload(baseUrl, 'erin', body)
    assert.equal(res.status, status, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`)
    assert.equal(res.body.field, field, JSON.stringify(body))
  }
  const invalidJson = await fetch(`${baseUrl}/api/uploads`, {
    method: 'POST',
    headers: { 'x-user-id': 'erin', 'content-type': 'application/json' },
    body: '{"filename":',
  })
  assert.equal(invalidJson.status, 400)

  for (const id of ['nope', randomUUID()]) {
    const res = await complete(baseUrl, 'erin', id)
    assert.equal(res.status, 404, id)
    assert.equal(res.body.code, 'PHOTOS_ERR_UPLOAD_NOT_FOUND')
  }
  const single = (await createUpload(baseUrl, 'erin', valid)).body as SinglePut
  const withParts = await complete(baseUrl, 'erin', single.id, { parts: [{ partNumber: 1, etag: '"x"' }] })
  assert.equal(withParts.status, 400)
  assert.equal(withParts.body.field, 'body.parts')

  const mp = (await createUpload(baseUrl, 'erin', { ...valid, size: 12 * MiB })).body as Multipart
  assert.equal(mp.multipart.parts.length, 3)
  const part = (partNumber: unknown, etag: unknown = '"x"') => ({ partNumber, etag })
  const partCases: Array<[unknown, string]> = [
    [{ parts: 'all' }, 'body.parts'],
    [{ parts: [] }, 'body.parts'],
    // Fewer parts than the declared size makes: S3 would build a short object and end the upload.
    [{ parts: [part(1), part(2)] }, 'body.parts'],
    [{ parts: [part(1), part(2), part(3), part(4)] }, 'body.parts'],
    [{ parts: [1, 2, 3] }, 'body.parts[0]'],
    [{ parts: [part(4), part(2), part(3)] }, 'body.parts[0].partNumber'],
    [{ parts: [part(1, ''), part(2), part(3)] }, 'body.parts[0].etag'],
    [{ parts: [part(1), part(1), part(3)] }, 'body.parts[1].partNumber'],
  ]
  for (const [body, field] of partCases) {
    const res = await complete(baseUrl, 'erin', mp.id, body)
    assert.equal(res.status, 400, JSON.stringify(body))
    assert.equal(res.body.field, field, JSON.stringify(body))
  }
  // Wrong ETags: S3 refuses the list — the client's mistake, named.
  const wrongEtags = await complete(baseUrl, 'erin', mp.id, {
    parts: [part(1, '"0"'), part(2, '"0"'), part(3, '"0"')],
  })
  assert.equal(wrongEtags.status, 422, JSON.stringify(wrongEtags.body))
  assert.equal(wrongEtags.body.field, 'body.parts')

  await h.db.query(
    `UPDATE "${h.schema}".uploads SET expires_at = now() - interval '1 second' WHERE id = $1`,
    [single.id],
  )
  assert.equal((await complete(baseUrl, 'erin', single.id)).status, 404, 'an expired upload is not found')
})

test('S3 gone: completing (and starting a multipart upload) is a 503 with Retry-After; the upload completes once S3 is back', async (t) => {
  const h = await photosHarness(t, { need: ['toxiproxy'] })
  const { baseUrl } = await h.startApi({ env: smallMultipart })
  const bytes = await jpeg(60, 40)
  const put = (
    await createUpload(baseUrl, 'gina', { filename: 'g.jpg', size: bytes.length, contentType: 'image/jpeg' })
  ).body as SinglePut
  assert.equal(await putToS3(put, bytes), 200)

  const toxiproxy = new ToxiproxyClient({ url: h.infra.urls.toxiproxyUrl })
  const listenPort = (await toxiproxy.proxy(proxies.s3.name)).listen.split(':').at(-1)
  assert.ok(h.infra.urls.s3Endpoint.endsWith(`:${listenPort}`), 'the API reaches S3 through its proxy')
  const [refused, refusedStart] = await toxiproxy.withProxyDisabled(proxies.s3.name, async () => [
    await complete(baseUrl, 'gina', put.id),
    await createUpload(baseUrl, 'gina', { filename: 'big.jpg', size: 6 * MiB, contentType: 'image/jpeg' }),
  ])
  for (const res of [refused, refusedStart]) {
    assert.equal(res?.status, 503, JSON.stringify(res?.body))
    assert.equal(res?.body.code, 'PHOTOS_ERR_STORAGE_UNAVAILABLE')
    assert.ok(Number(res?.headers.get('retry-after')) >= 1)
  }
  assert.equal(await photoCount(h), 0)
  assert.equal((await uploadRow(h, put.id))?.status, 'pending')

  const done = await complete(baseUrl, 'gina', put.id)
  assert.equal(done.status, 201, JSON.stringify(done.body))
})
