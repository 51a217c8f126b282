/**
 * Resumable uploads over the tus protocol (`/api/tus`, @tus/server + @tus/s3-store) on real S3,
 * Redis and Postgres, spoken with fetch as a tus client would: create, a partial PATCH, HEAD to
 * learn the offset, PATCH the rest — the finished object becomes a photo (same dedupe as every
 * route), and the upload lock lives in Redis so two API instances never append at once.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createRedis } from '@faultline/kit/clients'
import sharp from 'sharp'
import { Keys } from '../src/keys.ts'
import { reapOnce } from '../src/reaper/reap.ts'
import { PhotoRepository } from '../src/repositories/photos.ts'
import { PresignedUploads } from '../src/storage/presigned-uploads.ts'
import { LockBusyError, RedisLocker } from '../src/tus/redis-locker.ts'
import { getPhoto, photosHarness, settled, silentLog, withS3Down } from './helpers.ts'

const MiB = 1024 * 1024
const tus = { 'tus-resumable': '1.0.0' }
const octets = { 'content-type': 'application/offset+octet-stream' }

/** An uncompressed 2048×2048 PNG: 12 MiB of real image, the same bytes every call. */
function bigPng(): Promise<Buffer> {
  return sharp({ create: { width: 2048, height: 2048, channels: 3, background: '#3a6' } })
    .png({ compressionLevel: 0 })
    .toBuffer()
}

function metadata(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',')
}

async function create(baseUrl: string, owner: string | undefined, length: number, filename = 'big.png') {
  const res = await fetch(`${baseUrl}/api/tus`, {
    method: 'POST',
    headers: {
      ...tus,
      ...(owner === undefined ? {} : { 'x-user-id': owner }),
      'upload-length': String(length),
      'upload-metadata': metadata({ filename }),
    },
  })
  return res
}

function patch(
  url: string,
  owner: string,
  offset: number,
  body: Uint8Array | ReadableStream<Uint8Array>,
  signal?: AbortSignal,
) {
  return fetch(url, {
    method: 'PATCH',
    headers: { ...tus, ...octets, 'x-user-id': owner, 'upload-offset': String(offset) },
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
    ...(signal ? { signal } : {}),
  } as RequestInit)
}

function head(url: string, owner: string | undefined) {
  return fetch(url, {
    method: 'HEAD',
    headers: { ...tus, ...(owner === undefined ? {} : { 'x-user-id': owner }) },
  })
}

test('a 12 MiB upload resumed after a partial PATCH becomes a processed photo; the same bytes again are the same photo', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi()
  await h.startWorker()
  const bytes = await bigPng()
  assert.ok(bytes.length >= 12 * MiB, `${bytes.length} bytes`)

  const created = await create(baseUrl, 'alice', bytes.length)
  assert.equal(created.status, 201, await created.text())
  const location = created.headers.get('location') ?? ''
  assert.match(location, /^\/api\/tus\/[0-9a-f-]{36}$/)
  const url = `${baseUrl}${location}`

  // The first PATCH sends only 9 MiB: one full 8 MiB part and a 1 MiB tail kept aside in S3.
  const first = await patch(url, 'alice', 0, bytes.subarray(0, 9 * MiB))
  assert.equal(first.status, 204, await first.text())
  assert.equal(first.headers.get('upload-offset'), String(9 * MiB))
  assert.equal(first.headers.get('photo-id'), null, 'no photo before the last byte')

  // Resume as a client does after losing its connection: ask the server where to continue.
  const resumed = await head(url, 'alice')
  assert.equal(resumed.status, 200)
  assert.equal(resumed.headers.get('upload-length'), String(bytes.length))
  const offset = Number(resumed.headers.get('upload-offset'))
  assert.equal(offset, 9 * MiB)

  const last = await patch(url, 'alice', offset, bytes.subarray(offset))
  assert.equal(last.status, 204, await last.text())
  assert.equal(last.headers.get('upload-offset'), String(bytes.length))
  const photoId = last.headers.get('photo-id') ?? ''
  assert.match(photoId, /^\d+$/)
  assert.equal(last.headers.get('photo-status'), 'processing')

  const ready = await settled(baseUrl, 'alice', photoId, 60_000)
  assert.equal(ready.status, 'ready', JSON.stringify(ready))
  assert.equal(ready.filename, 'big.png')
  assert.deepEqual([ready.width, ready.height], [2048, 2048])

  // A finished upload cannot be terminated: its object is the photo's original.
  const terminated = await fetch(url, { method: 'DELETE', headers: { ...tus, 'x-user-id': 'alice' } })
  assert.equal(terminated.status, 400, await terminated.text())
  const kept = (await h.objects('incoming/alice/')).filter((k) => !/\.(info|part)$/.test(k))
  assert.equal(kept.length, 1, 'the original is still in S3')

  // The same bytes again, in one request this time (creation-with-upload): the same photo.
  const again = await fetch(`${baseUrl}/api/tus`, {
    method: 'POST',
    headers: {
      ...tus,
      ...octets,
      'x-user-id': 'alice',
      'upload-length': String(bytes.length),
      'upload-metadata': metadata({ filename: 'copy.png' }),
    },
    body: bytes,
  })
  assert.equal(again.status, 201, await again.text())
  assert.equal(again.headers.get('photo-id'), photoId)
  const originals = (await h.objects('incoming/alice/')).filter((k) => !/\.(info|part)$/.test(k))
  assert.equal(originals.length, 1, `the repeat's object was deleted: ${originals.join(', ')}`)
  const list = await fetch(`${baseUrl}/api/photos`, { headers: { 'x-user-id': 'alice' } })
  assert.equal(((await list.json()) as { items: unknown[] }).items.length, 1)
})

test('S3 gone: tus answers 503 with Retry-After (never a 500), the breaker opens, and the upload resumes once S3 is back', async (t) => {
  const h = await photosHarness(t, { need: ['toxiproxy'] })
  const { baseUrl } = await h.startApi()
  await h.startWorker()
  const bytes = await bigPng()
  const created = await create(baseUrl, 'olga', bytes.length)
  assert.equal(created.status, 201, await created.text())
  const url = `${baseUrl}${created.headers.get('location') ?? ''}`

  const during = await withS3Down(h, async () => {
    const answers: { status: number; retryAfter: string | null }[] = []
    // Enough requests to open the breaker (3 failures in a row), then some it refuses at once.
    for (let i = 0; i < 6; i++) {
      const res =
        i % 2 === 0
          ? await create(baseUrl, 'olga', 1024)
          : await patch(url, 'olga', 0, bytes.subarray(0, MiB))
      await res.arrayBuffer()
      answers.push({ status: res.status, retryAfter: res.headers.get('retry-after') })
    }
    return answers
  })
  for (const a of during) {
    assert.equal(a.status, 503, JSON.stringify(during))
    assert.ok(Number(a.retryAfter) >= 1, `Retry-After on every 503: ${JSON.stringify(during)}`)
  }

  // Back: the client retries after Retry-After (the breaker's trial lets the first call through).
  let offset = -1
  for (let i = 0; i < 40 && offset < 0; i++) {
    const res = await head(url, 'olga')
    if (res.status === 200) offset = Number(res.headers.get('upload-offset'))
    else await sleep(Math.max(250, Number(res.headers.get('retry-after') ?? 0) * 1000))
  }
  assert.equal(offset, 0, 'the upload survived the outage, nothing of it stored yet')
  const last = await patch(url, 'olga', 0, bytes)
  assert.equal(last.status, 204, await last.text())
  const ready = await settled(baseUrl, 'olga', last.headers.get('photo-id') ?? '', 60_000)
  assert.equal(ready.status, 'ready', JSON.stringify(ready))
})

test('a finished upload whose finishing hook made no photo is made into one by the reaper, once', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi()
  const worker = await h.startWorker()
  const bytes = await bigPng()
  const created = await create(baseUrl, 'petra', bytes.length, 'holiday.png')
  const last = await patch(`${baseUrl}${created.headers.get('location') ?? ''}`, 'petra', 0, bytes)
  assert.equal(last.status, 204, await last.text())
  const photoId = last.headers.get('photo-id') ?? ''
  await settled(baseUrl, 'petra', photoId, 60_000)
  // What a hook that failed after the last byte leaves: the object and its .info, no photo.
  await h.db.query('DELETE FROM photos WHERE id = $1', [photoId])
  const [key] = (await h.objects('incoming/petra/')).filter((k) => !k.endsWith('.info'))
  assert.ok(key && (await h.objects('incoming/petra/')).includes(`${key}.info`))

  const photos = new PhotoRepository(h.db)
  const deps = {
    photos,
    queues: worker.queues,
    gate: worker.gate,
    store: worker.store,
    accept: {
      photos,
      queues: worker.queues,
      deleteObject: (k: string) => worker.store.delete(k),
      log: silentLog,
    },
    uploads: new PresignedUploads(worker.gate),
    uploadTtlMs: 3_600_000,
  }
  assert.equal((await reapOnce(deps)).tusRecovered, 0, 'not before a minute has passed')
  const later = new Date(Date.now() + 120_000)
  assert.equal((await reapOnce(deps, later)).tusRecovered, 1)
  assert.equal((await reapOnce(deps, later)).tusRecovered, 0, 'a second pass finds it made')
  const list = (await (
    await fetch(`${baseUrl}/api/photos`, { headers: { 'x-user-id': 'petra' } })
  ).json()) as {
    items: { id: string; filename?: string }[]
  }
  assert.equal(list.items.length, 1)
  assert.equal(list.items[0]?.filename, 'holiday.png', 'the filename recovered from the upload metadata')
  const ready = await settled(baseUrl, 'petra', list.items[0]?.id ?? '', 60_000)
  assert.equal(ready.status, 'ready', JSON.stringify(ready))
  assert.ok((await h.objects('incoming/petra/')).includes(key), 'its original kept')
})

test('tus requests without an owner are 400 naming the header; another owner gets 404; too large is 413', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi({ env: { MAX_UPLOAD_BYTES: String(6 * MiB) } })

  const anonymous = await create(baseUrl, undefined, 100)
  assert.equal(anonymous.status, 400)
  assert.equal(((await anonymous.json()) as { field: string }).field, 'headers.x-user-id')

  const created = await create(baseUrl, 'bob', 1000, 'small.bin')
  assert.equal(created.status, 201)
  const url = `${baseUrl}${created.headers.get('location')}`
  const anonymousHead = await head(url, undefined)
  assert.equal(anonymousHead.status, 400)

  assert.equal((await head(url, 'mallory')).status, 404, "another owner's HEAD")
  const foreignPatch = await patch(url, 'mallory', 0, Buffer.alloc(1000, 1))
  assert.equal(foreignPatch.status, 404, "another owner's PATCH")
  const own = await head(url, 'bob')
  assert.equal(own.status, 200)
  assert.equal(own.headers.get('upload-offset'), '0', "the owner's upload is untouched")
  assert.equal(
    Buffer.from((own.headers.get('upload-metadata') ?? '').split(' ')[1] ?? '', 'base64').toString(),
    'small.bin',
  )
  assert.equal((await head(`${baseUrl}/api/tus/not-an-id`, 'bob')).status, 404)
  // tus would serve the upload's bytes — an original with its EXIF and GPS — to a GET: refused.
  const read = await fetch(url, { headers: { ...tus, 'x-user-id': 'bob' } })
  assert.equal(read.status, 405)
  assert.equal(((await read.json()) as { code: string }).code, 'PHOTOS_ERR_TUS_NOT_READABLE')
  assert.match(read.headers.get('allow') ?? '', /PATCH/)

  const tooBig = await create(baseUrl, 'bob', 6 * MiB + 1)
  assert.equal(tooBig.status, 413)

  for (const dots of ['.', '..']) {
    const pathLike = await create(baseUrl, dots, 100)
    assert.equal(pathLike.status, 400, `owner ${dots}: it would be a segment of the S3 key`)
    assert.equal(((await pathLike.json()) as { field: string }).field, 'headers.x-user-id')
  }

  // An empty file is not a photo, by tus as by the form (it was a 500 naming an S3 key).
  const empty = await create(baseUrl, 'bob', 0)
  assert.equal(empty.status, 400)
  assert.match(await empty.text(), /^Upload-Length: an empty file is not a photo/)
  const deferred = await fetch(`${baseUrl}/api/tus`, {
    method: 'POST',
    headers: { ...tus, 'x-user-id': 'bob', 'upload-defer-length': '1' },
  })
  assert.equal(deferred.status, 201)
  const emptyPatch = await fetch(`${baseUrl}${deferred.headers.get('location')}`, {
    method: 'PATCH',
    headers: { ...tus, ...octets, 'x-user-id': 'bob', 'upload-offset': '0', 'upload-length': '0' },
    body: new Uint8Array(0),
  })
  assert.equal(emptyPatch.status, 400)
  const list = (await (await fetch(`${baseUrl}/api/photos`, { headers: { 'x-user-id': 'bob' } })).json()) as {
    items: unknown[]
  }
  assert.equal(list.items.length, 0, 'no photo from an empty upload')
})

test('a filename Postgres cannot store (a NUL in it) is dropped; the upload still becomes a photo', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi()
  const bytes = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#c33' } })
    .jpeg()
    .toBuffer()
  const created = await create(baseUrl, 'nadia', bytes.length, 'a\u0000b.jpg')
  assert.equal(created.status, 201)
  const last = await patch(`${baseUrl}${created.headers.get('location') ?? ''}`, 'nadia', 0, bytes)
  assert.equal(last.status, 204, await last.text())
  const photo = await getPhoto(baseUrl, 'nadia', last.headers.get('photo-id') ?? '')
  assert.equal(photo.status, 200)
  assert.equal(photo.body.filename, null)
})

test('two API instances never PATCH one upload at once: the lock is in Redis and released after', async (t) => {
  const h = await photosHarness(t)
  const env = { TUS_LOCK_TIMEOUT_MS: '300' }
  const a = await h.startApi({ env })
  const b = await h.startApi({ env })
  const redis = createRedis(h.infra.urls.redisUrl, { name: 'photos-test-tus' })
  t.after(() => redis.disconnect())
  const keys = new Keys(h.env.REDIS_KEY_PREFIX)

  const created = await create(a.baseUrl, 'carol', 2 * MiB)
  assert.equal(created.status, 201)
  const path = created.headers.get('location') ?? ''
  const lockKey = keys.tusLock(`incoming/carol/${path.split('/').pop()}`)

  // A PATCH on instance A whose body stays open: A holds the lock while it reads.
  let finishBody: () => void = () => {}
  const bodyDone = new Promise<void>((resolve) => {
    finishBody = resolve
  })
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(new Uint8Array(MiB).fill(1))
      await bodyDone
      controller.enqueue(new Uint8Array(MiB).fill(2))
      controller.close()
    },
  })
  const abortA = new AbortController()
  const patchA = patch(`${a.baseUrl}${path}`, 'carol', 0, stream, abortA.signal)
  try {
    for (let i = 0; i < 200 && (await redis.exists(lockKey)) === 0; i++) await sleep(25)
    assert.equal(await redis.exists(lockKey), 1, 'A holds the lock in Redis')

    // Instance B cannot get it while A writes: its PATCH and HEAD are told to retry (423).
    const patchB = await patch(`${b.baseUrl}${path}`, 'carol', 0, Buffer.alloc(2 * MiB, 3))
    assert.equal(patchB.status, 423, await patchB.text())
    const headB = await head(`${b.baseUrl}${path}`, 'carol')
    assert.equal(headB.status, 423)
  } catch (err) {
    // A failed check must not leave A's request open: it would hold the app's close forever.
    abortA.abort()
    await patchA.catch(() => {})
    throw err
  } finally {
    finishBody()
  }
  const doneA = await patchA
  assert.equal(doneA.status, 204, await doneA.text())
  assert.equal(doneA.headers.get('upload-offset'), String(2 * MiB))
  assert.equal(await redis.exists(lockKey), 0, 'released when the PATCH ended')
  const after = await head(`${b.baseUrl}${path}`, 'carol')
  assert.equal(after.status, 200)
  assert.equal(after.headers.get('upload-offset'), String(2 * MiB), "B sees A's bytes")
})

test('the Redis lock: a lost lock is reclaimed after its TTL, a live one is renewed, release is owner-only', async (t) => {
  const h = await photosHarness(t)
  const redis = createRedis(h.infra.urls.redisUrl, { name: 'photos-test-tus-locker' })
  t.after(() => redis.disconnect())
  const keys = new Keys(h.env.REDIS_KEY_PREFIX)
  const locker = (acquireTimeoutMs: number, ttlMs = 1000) =>
    new RedisLocker({ redis, key: (id) => keys.tusLock(id), ttlMs, acquireTimeoutMs })
  const never = new AbortController().signal
  const noop = () => {}

  // A holder that died: its key stays until the TTL frees it, then the waiter takes it.
  await redis.set(keys.tusLock('u1'), 'dead-holder', 'PX', 400)
  const reclaimed = locker(10_000).newLock('u1')
  await reclaimed.lock(never, noop)
  const token = await redis.get(keys.tusLock('u1'))
  assert.ok(token && token !== 'dead-holder', 'the waiter holds it now')
  await reclaimed.unlock()
  assert.equal(await redis.exists(keys.tusLock('u1')), 0)

  // While held, another locker (another instance) times out instead of taking it.
  const held = locker(10_000).newLock('u2')
  await held.lock(never, noop)
  await assert.rejects(locker(100).newLock('u2').lock(never, noop), LockBusyError)
  // Renewed: after three TTLs it is still there, still ours.
  const ours = await redis.get(keys.tusLock('u2'))
  await sleep(3000)
  assert.equal(await redis.get(keys.tusLock('u2')), ours, 'renewed while held')

  // Taken over (say after a long pause): the old holder is told to stop, and its release
  // does not delete the new holder's lock.
  let stopped: () => void = () => {}
  const toldToStop = new Promise<void>((resolve) => {
    stopped = resolve
  })
  const lost = locker(10_000, 300).newLock('u3')
  await lost.lock(never, () => stopped())
  await redis.set(keys.tusLock('u3'), 'new-holder', 'PX', 10_000)
  await toldToStop
  await lost.unlock()
  assert.equal(await redis.get(keys.tusLock('u3')), 'new-holder')
  await held.unlock()
  await redis.del(keys.tusLock('u3'))
})

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
