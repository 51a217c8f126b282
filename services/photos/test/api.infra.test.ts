/**
 * The photo system end to end on real Postgres, Redis (cache and queue) and S3: an upload through
 * the API, processed by the worker's lanes, read back — variants without metadata, the same bytes
 * one photo per owner, another owner's photo a 404, bad input a 4xx naming the field.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { test } from 'node:test'
import { GetObjectCommand } from '@aws-sdk/client-s3'
import { operationsOf } from '@faultline/kit/openapi'
import sharp from 'sharp'
import * as corpus from './corpus/corpus.ts'
import { getPhoto, photosHarness, settled, upload } from './helpers.ts'

type OpenApiOperation = {
  requestBody?: { content?: object }
  responses?: Record<string, { content?: object; headers?: object }>
}
type OpenApiDocument = { openapi: string; paths: Record<string, Record<string, OpenApiOperation>> }

/** A 600×400 JPEG whose EXIF says "rotate 90° clockwise" (orientation 6) and carries GPS. */
async function orientedJpegWithGps(): Promise<Buffer> {
  return sharp({ create: { width: 600, height: 400, channels: 3, background: '#2a7' } })
    .withMetadata({ orientation: 6 })
    .withExifMerge({
      IFD3: {
        GPSLatitudeRef: 'N',
        GPSLatitude: '48/1 51/1 2940/100',
        GPSLongitudeRef: 'E',
        GPSLongitude: '2/1 17/1 4020/100',
      },
    })
    .jpeg()
    .toBuffer()
}

test('an upload is stored, processed into variants without metadata, and read back by its owner only', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi()
  await h.startWorker()
  const original = await orientedJpegWithGps()
  const originalMeta = await sharp(original).metadata()
  assert.equal(originalMeta.orientation, 6)
  assert.ok((originalMeta.exif?.length ?? 0) > 100, 'the original carries EXIF (with its GPS block)')

  const created = await upload(baseUrl, 'alice', original, 'beach.jpg')
  assert.equal(created.status, 201)
  assert.equal(created.body.status, 'processing')
  assert.equal(created.body.filename, 'beach.jpg')
  const [stored] = await h.objects(`incoming/alice/`)
  assert.ok(stored, 'the original is in S3 when the API answered 201')

  const ready = await settled(baseUrl, 'alice', created.body.id)
  assert.equal(ready.status, 'ready', JSON.stringify(ready))
  assert.equal(ready.contentType, 'image/jpeg')
  // Auto-oriented: the 600×400 stored sideways is displayed 400×600.
  assert.deepEqual([ready.width, ready.height], [400, 600])
  assert.ok(ready.placeholder && ready.placeholder.length > 10)
  const urls = [
    ready.variants.thumb?.webp,
    ready.variants.thumb?.jpeg,
    ready.variants.preview?.webp,
    ready.variants.preview?.jpeg,
  ]
  for (const url of urls) {
    assert.ok(url, `every variant is listed (${JSON.stringify(ready.variants)})`)
    const res = await fetch(url, { headers: { 'x-user-id': 'alice' } })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('cache-control') ?? '', /immutable/)
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata()
    assert.equal(meta.exif, undefined, `${url} carries no EXIF (no GPS)`)
    assert.ok((meta.height ?? 0) > (meta.width ?? 0), `${url} is portrait, as displayed`)
    // Another owner cannot fetch the bytes either.
    assert.equal((await fetch(url, { headers: { 'x-user-id': 'mallory' } })).status, 404)
  }

  // The event stream of a ready photo announces it (the current status first, then it closes).
  const events = await fetch(`${baseUrl}/api/photos/${created.body.id}/events`, {
    headers: { 'x-user-id': 'alice' },
  })
  assert.match(await events.text(), /event: ready\ndata: \{"id":"\d+","status":"ready"/)

  assert.equal((await getPhoto(baseUrl, 'mallory', created.body.id)).status, 404)
  const list = await fetch(`${baseUrl}/api/photos`, { headers: { 'x-user-id': 'mallory' } })
  assert.deepEqual(((await list.json()) as { items: unknown[] }).items, [])
})

test("an iPhone's HEIC is processed (decoded without sharp) and served without its EXIF", async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi()
  await h.startWorker()
  const original = await corpus.heicWithExif()
  assert.ok((await sharp(original).metadata()).exif !== undefined, 'the original carries EXIF')
  const created = await upload(baseUrl, 'ivy', original, 'IMG_0001.HEIC')
  assert.equal(created.status, 201)
  const ready = await settled(baseUrl, 'ivy', created.body.id)
  assert.equal(ready.status, 'ready', JSON.stringify(ready))
  assert.equal(ready.contentType, 'image/heic')
  assert.deepEqual([ready.width, ready.height], [480, 320])
  for (const url of [ready.variants.thumb?.jpeg, ready.variants.preview?.webp]) {
    assert.ok(url, JSON.stringify(ready.variants))
    const res = await fetch(url, { headers: { 'x-user-id': 'ivy' } })
    assert.equal(res.status, 200)
    assert.equal((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).exif, undefined, url)
  }
  // Another owner, a malformed name: the same 404, naming the variant file, not a photo id.
  const file = ready.variants.thumb?.jpeg?.split('/api/variants/')[1] ?? ''
  for (const [owner, name] of [
    ['mallory', file],
    ['ivy', 'xyz'],
  ]) {
    const res = await fetch(`${baseUrl}/api/variants/${name}`, { headers: { 'x-user-id': owner ?? '' } })
    assert.equal(res.status, 404, `${owner} ${name}`)
    const body = (await res.json()) as { code: string; field: string; message: string }
    assert.deepEqual(
      [body.code, body.field, body.message],
      ['PHOTOS_ERR_VARIANT_NOT_FOUND', 'params.file', `no variant ${name}`],
    )
  }
})

test('the same bytes from the same owner are one photo; from another owner, another photo', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi()
  const bytes = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#123' } })
    .png()
    .toBuffer()
  const first = await upload(baseUrl, 'alice', bytes)
  const again = await upload(baseUrl, 'alice', bytes)
  const other = await upload(baseUrl, 'bob', bytes)
  assert.deepEqual([first.status, again.status, other.status], [201, 200, 201])
  assert.equal(again.body.id, first.body.id)
  assert.notEqual(other.body.id, first.body.id)
  assert.equal((await h.objects('incoming/alice/')).length, 1, "the repeat's copy was deleted")
})

/** A multipart body laid out by hand: `parts` in order, then the closing delimiter and `tail`. */
function handForm(
  boundary: string,
  parts: Array<{ name: string; filename?: string; body: Buffer }>,
  tail: string,
) {
  const pieces: Buffer[] = []
  for (const part of parts) {
    const filename = part.filename === undefined ? '' : `; filename="${part.filename}"`
    pieces.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"${filename}\r\n`),
      Buffer.from(part.filename === undefined ? '\r\n' : 'Content-Type: image/png\r\n\r\n'),
      part.body,
      Buffer.from('\r\n'),
    )
  }
  pieces.push(Buffer.from(`--${boundary}--${tail}`))
  return Buffer.concat(pieces)
}

test('a form is stored byte for byte however it is laid out (the file streamed as one PUT of the length the form implies, or rewritten)', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi()
  const png = await sharp({
    create: {
      width: 300,
      height: 300,
      channels: 3,
      background: '#000',
      noise: { type: 'gaussian', mean: 128, sigma: 40 },
    },
  })
    .png()
    .toBuffer()
  const caption = { name: 'caption', body: Buffer.from('at the beach') }
  const file = { name: 'file', filename: 'beach.png', body: png }
  const layouts: Record<string, Buffer> = {
    'file only, closed with CRLF (as browsers, curl and undici send it)': handForm('b0', [file], '\r\n'),
    'a field after the file': handForm('b1', [file, caption], '\r\n'),
    'no CRLF after the closing delimiter': handForm('b2', [file], ''),
    'an epilogue after the closing delimiter': handForm('b3', [file], '\r\nthe end\r\n'),
    'a field before the file': handForm('b4', [caption, file], '\r\n'),
  }
  const ids = new Set<string>()
  for (const [i, [layout, body]] of Object.entries(layouts).entries()) {
    const owner = `owner-${i}`
    const res = await fetch(`${baseUrl}/api/photos`, {
      method: 'POST',
      body,
      headers: { 'x-user-id': owner, 'content-type': `multipart/form-data; boundary=b${i}` },
    })
    assert.equal(res.status, 201, `${layout}: ${await res.clone().text()}`)
    const keys = await h.objects(`incoming/${owner}/`)
    assert.equal(keys.length, 1, `${layout}: one object, no fitted copy left (${keys.join(', ')})`)
    const stored = await h.s3.send(new GetObjectCommand({ Bucket: h.bucket, Key: keys[0] }))
    assert.ok(stored.Body, layout)
    assert.ok(
      Buffer.from(await stored.Body.transformToByteArray()).equals(png),
      `${layout}: the bytes are the file's`,
    )
    // The same bytes by the ordinary client are the same photo: the content hash was the file's.
    const again = await upload(baseUrl, owner, png, 'beach.png')
    assert.equal(again.status, 200, layout)
    assert.equal(again.body.id, ((await res.json()) as { id: string }).id, layout)
    ids.add(again.body.id)
  }
  assert.equal(ids.size, Object.keys(layouts).length)
})

/** Sends `head` of a request that promised `contentLength` bytes, then goes quiet; resolves with the answer. */
function pausedUpload(baseUrl: string, owner: string, boundary: string, head: Buffer, contentLength: number) {
  return new Promise<{ status: number; body: { code?: string } }>((resolve, reject) => {
    const req = request(`${baseUrl}/api/photos`, {
      method: 'POST',
      headers: {
        'x-user-id': owner,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(contentLength),
      },
    })
    req.on('response', (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString()
      })
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { code?: string } })
        req.destroy()
      })
    })
    req.on('error', reject)
    req.write(head) // …and never the rest
  })
}

test('a client that goes quiet mid-upload, or promises more than it sends, gets a 400 and leaves nothing in S3 (S3 not blamed)', async (t) => {
  const h = await photosHarness(t)
  // S3_TIMEOUT_MS 2000: the route's stall limit is a second under it.
  const { baseUrl } = await h.startApi({ env: { S3_TIMEOUT_MS: '2000' } })
  const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#345' } })
    .png()
    .toBuffer()
  const whole = handForm(
    'q',
    [{ name: 'file', filename: 'a.png', body: Buffer.concat([png, randomBytes(300_000)]) }],
    '\r\n',
  )
  const cut = await pausedUpload(baseUrl, 'quiet', 'q', whole.subarray(0, 100_000), whole.length)
  assert.equal(cut.status, 400)
  assert.equal(cut.body.code, 'PHOTOS_ERR_UPLOAD_INTERRUPTED')
  // A whole small form whose Content-Length promised 1 MiB more: nothing is padded for it.
  const small = handForm('s', [{ name: 'file', filename: 'a.png', body: png }], '\r\n')
  const short = await pausedUpload(baseUrl, 'claims', 's', small, small.length + 1024 * 1024)
  assert.equal(short.status, 400)
  assert.equal(short.body.code, 'PHOTOS_ERR_UPLOAD_INTERRUPTED')
  assert.deepEqual(await h.objects('incoming/'), [], 'nothing of either upload is left in S3')
  // S3 was never blamed: the next upload goes through.
  assert.equal((await upload(baseUrl, 'quiet', png)).status, 201)
})

test('a list pages newest first with a cursor, no photo twice, none skipped', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi()
  const ids: string[] = []
  for (let i = 0; i < 5; i++) {
    const png = await sharp({
      create: { width: 8, height: 8, channels: 3, background: { r: i, g: 0, b: 0 } },
    })
      .png()
      .toBuffer()
    ids.push((await upload(baseUrl, 'carol', png)).body.id)
  }
  const seen: string[] = []
  let cursor: string | null = null
  do {
    const res = await fetch(`${baseUrl}/api/photos?limit=2${cursor ? `&cursor=${cursor}` : ''}`, {
      headers: { 'x-user-id': 'carol' },
    })
    const page = (await res.json()) as { items: Array<{ id: string }>; nextCursor: string | null }
    seen.push(...page.items.map((p) => p.id))
    cursor = page.nextCursor
  } while (cursor)
  assert.deepEqual(seen, [...ids].reverse())
})

test('bad input is a 4xx naming the field, never a 500', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi({ env: { MAX_UPLOAD_BYTES: String(64 * 1024) } })
  const tiny = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } })
    .png()
    .toBuffer()

  const anonymous = await upload(baseUrl, undefined, tiny)
  assert.equal(anonymous.status, 400)
  assert.equal(anonymous.body.field, 'headers.x-user-id')

  const json = await fetch(`${baseUrl}/api/photos`, {
    method: 'POST',
    headers: { 'x-user-id': 'dave', 'content-type': 'application/json' },
    body: '{}',
  })
  assert.equal(json.status, 400)
  assert.equal(((await json.json()) as { field: string }).field, 'body.file')

  // Forms busboy cannot read are the body's fault: 400 naming it, never a 500.
  const post = (contentType: string, body: Buffer) =>
    fetch(`${baseUrl}/api/photos`, {
      method: 'POST',
      headers: { 'x-user-id': 'dave', 'content-type': contentType },
      body,
    })
  const unreadable: Array<[string, string, Buffer]> = [
    ['no boundary', 'multipart/form-data', Buffer.from('whatever')],
    ['not a form', 'multipart/form-data; boundary=b1', Buffer.from('garbage, no delimiter at all')],
    [
      'cut before its first part ends',
      'multipart/form-data; boundary=b2',
      Buffer.from('--b2\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'),
    ],
  ]
  for (const [what, contentType, body] of unreadable) {
    const res = await post(contentType, body)
    assert.equal(res.status, 400, what)
    assert.equal(((await res.json()) as { field: string }).field, 'body.file', what)
  }
  const noFile = await post(
    'multipart/form-data; boundary=b3',
    handForm('b3', [{ name: 'caption', body: Buffer.from('hello') }], '\r\n'),
  )
  assert.equal(noFile.status, 400)
  assert.equal(((await noFile.json()) as { field: string }).field, 'body.file')
  const empty = await post(
    'multipart/form-data; boundary=b4',
    handForm('b4', [{ name: 'file', filename: 'empty.png', body: Buffer.alloc(0) }], '\r\n'),
  )
  assert.equal(empty.status, 400)
  assert.match(((await empty.json()) as { message: string }).message, /body\.file is empty/)
  // The first file part is the photo whatever its field's name.
  const named = await post(
    'multipart/form-data; boundary=b5',
    handForm('b5', [{ name: 'photo', filename: 'tiny.png', body: tiny }], '\r\n'),
  )
  assert.equal(named.status, 201)

  const tooBig = await upload(baseUrl, 'dave', Buffer.alloc(200 * 1024, 7))
  assert.equal(tooBig.status, 413)
  assert.equal(tooBig.body.field, 'body.file')
  assert.equal(
    (await h.objects('incoming/dave/')).length,
    1,
    "only the accepted upload's original is in S3: nothing of the refused or empty ones",
  )

  const badLimit = await fetch(`${baseUrl}/api/photos?limit=0`, { headers: { 'x-user-id': 'dave' } })
  assert.equal(badLimit.status, 400)
  assert.equal(((await badLimit.json()) as { field: string }).field, 'query.limit')
  for (const id of ['abc', '0', '99999999999999999999']) {
    assert.equal((await getPhoto(baseUrl, 'dave', id)).status, 404, id)
  }
})

test('GET /openapi.json: OpenAPI 3.1 listing every upload route and read of the issue, with honest content types', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi()
  const res = await fetch(`${baseUrl}/openapi.json`)
  assert.equal(res.status, 200)
  const doc = (await res.json()) as OpenApiDocument
  assert.equal(doc.openapi, '3.1.0')
  assert.deepEqual(operationsOf(doc), [
    'DELETE /api/tus/{uploadId}',
    'GET /admin/mitigations',
    'GET /api/photos',
    'GET /api/photos/{id}',
    'GET /api/photos/{id}/events',
    'GET /api/variants/{file}',
    'HEAD /api/tus/{uploadId}',
    'PATCH /api/tus/{uploadId}',
    'POST /admin/reprocess',
    'POST /api/photos',
    'POST /api/tus',
    'POST /api/uploads',
    'POST /api/uploads/{id}/complete',
    'PUT /admin/mitigations',
  ])
  const paths = doc.paths
  assert.deepEqual(Object.keys(paths['/api/photos']?.post?.requestBody?.content ?? {}), [
    'multipart/form-data',
  ])
  assert.deepEqual(Object.keys(paths['/api/photos/{id}/events']?.get?.responses?.['200']?.content ?? {}), [
    'text/event-stream',
  ])
  assert.deepEqual(Object.keys(paths['/api/tus/{uploadId}']?.patch?.responses?.['204']?.headers ?? {}), [
    'Upload-Offset',
    'Photo-Id',
    'Photo-Status',
  ])
})

test('an unreadable file fails with a reason its owner can read, announced on the event stream', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi()
  const notAnImage = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(4096, 0x41)])
  const created = await upload(baseUrl, 'erin', notAnImage, 'broken.jpg')
  assert.equal(created.status, 201)
  const events = await fetch(`${baseUrl}/api/photos/${created.body.id}/events`, {
    headers: { 'x-user-id': 'erin' },
  })
  assert.equal(events.headers.get('content-type'), 'text/event-stream')
  // The stream sends the current status at once; the worker starts now, so a change arrives too.
  await h.startWorker()
  const text = await events.text()
  assert.match(text, /event: processing\ndata: \{"id":"\d+","status":"processing"\}/)
  assert.match(text, /event: failed\ndata: \{"id":"\d+","status":"failed","reason":"[^"]+"\}/)
  const failed = await getPhoto(baseUrl, 'erin', created.body.id)
  assert.equal(failed.body.status, 'failed')
  assert.match(failed.body.reason ?? '', /corrupt|truncated|unsupported/)
})

test('VARIANT_URLS=presigned: variants are presigned S3 GETs that serve the bytes with their immutable headers', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi({ env: { VARIANT_URLS: 'presigned', PRESIGN_EXPIRES_S: '120' } })
  await h.startWorker()
  const created = await upload(baseUrl, 'alice', await orientedJpegWithGps(), 'beach.jpg')
  assert.equal(created.status, 201)
  const ready = await settled(baseUrl, 'alice', created.body.id)
  assert.equal(ready.status, 'ready', JSON.stringify(ready))
  const url = ready.variants.thumb?.webp
  assert.ok(url, JSON.stringify(ready.variants))
  assert.ok(!url.startsWith(baseUrl), `not through the API: ${url}`)
  assert.match(url, /X-Amz-Signature=/)
  assert.match(url, /X-Amz-Expires=120/)
  const res = await fetch(url)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('cache-control') ?? '', /immutable/)
  const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata()
  assert.equal(meta.format, 'webp')
  assert.equal(meta.exif, undefined)
  // The signature covers the key: another variant's key with this signature is refused.
  const forged = url.replace(/variants\/[0-9a-f]{64}/, `variants/${'0'.repeat(64)}`)
  assert.notEqual(forged, url)
  assert.equal((await fetch(forged)).status, 403)
  // The list carries the same kind of URL.
  const list = (await (
    await fetch(`${baseUrl}/api/photos`, { headers: { 'x-user-id': 'alice' } })
  ).json()) as {
    items: { variants: { preview?: { jpeg?: string } } }[]
  }
  assert.match(list.items[0]?.variants.preview?.jpeg ?? '', /X-Amz-Signature=/)
})
