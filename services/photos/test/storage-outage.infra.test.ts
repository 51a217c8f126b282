/**
 * The storage module through the Toxiproxy proxy `s3` while S3 is taken away (proxy disabled) or
 * hangs (a latency toxic that holds every byte for a minute): calls fail in bounded time with
 * StorageUnavailableError, the breaker opens and recovers through `probe()`, and a multipart
 * upload cut off mid-way is left for the reaper to find and abort. Changes the shared proxy, so
 * run it under the infra lock:
 * `flock /tmp/faultline-infra.lock node --test services/photos/test/storage-outage.infra.test.ts`.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3'
import { proxies } from '@faultline/infra'
import { resolveInfra } from '@faultline/testkit'
import { latency, ToxiproxyClient } from '@faultline/toxiproxy'
import {
  createS3,
  createStorage,
  type S3ClientOptions,
  StorageUnavailableError,
  worstCaseCallMs,
} from '../src/storage/index.ts'

const MiB = 1024 * 1024
const proxyName = proxies.s3.name

async function proxiedStorage(t: test.TestContext, openMs: number) {
  const infra = await resolveInfra({ need: ['s3', 'toxiproxy'] })
  if (infra.sources.s3 !== 'native' || infra.sources.toxiproxy !== 'native') return undefined
  const toxiproxy = new ToxiproxyClient({ url: infra.urls.toxiproxyUrl })
  const listenPort = (await toxiproxy.proxy(proxyName)).listen.split(':').at(-1)
  // An S3 reached around the proxy would stay up while the test believes it is down.
  assert.ok(infra.urls.s3Endpoint.endsWith(`:${listenPort}`), `${infra.urls.s3Endpoint} is not the proxy`)
  const options: S3ClientOptions = {
    endpoint: infra.urls.s3Endpoint,
    accessKeyId: infra.env.S3_ACCESS_KEY ?? 'faultline',
    secretAccessKey: infra.env.S3_SECRET_KEY ?? 'faultline-secret',
    connectTimeoutMs: 500,
    idleTimeoutMs: 1000,
    requestTimeoutMs: 3000,
    maxAttempts: 2,
  }
  const client = createS3(options)
  const bucket = `photos-test-${randomBytes(5).toString('hex')}`
  await client.send(new CreateBucketCommand({ Bucket: bucket }))
  const storage = createStorage({ client, bucket, breaker: { consecutiveFailures: 3, openMs } })
  t.after(async () => {
    await toxiproxy.enableProxy(proxyName)
    for (const u of await storage.uploads.listIncompleteMultipart('', new Date(Date.now() + 60_000))) {
      await storage.uploads.abortMultipart(u.key, u.uploadId)
    }
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }))
    for (const o of listed.Contents ?? [])
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }))
    await client.send(new DeleteBucketCommand({ Bucket: bucket }))
    client.destroy()
  })
  return { ...storage, toxiproxy, boundMs: worstCaseCallMs(options) }
}

const unavailable = (error: unknown) => error instanceof StorageUnavailableError && error.statusCode === 503

test('S3 gone: uploads fail fast, the breaker opens, and a probe closes it once S3 is back', async (t) => {
  const s = await proxiedStorage(t, 500)
  if (!s) return t.skip('no Toxiproxy in front of S3 (run on the native topology)')
  await s.objects.putBuffer('variants/before.webp', randomBytes(100), { contentType: 'image/webp' })
  await s.toxiproxy.withProxyDisabled(proxyName, async () => {
    const started = performance.now()
    for (let i = 0; i < 3; i++) {
      const source = Readable.from([randomBytes(100_000)])
      await assert.rejects(
        s.objects.putStream(`incoming/u/${i}`, source, { contentType: 'image/jpeg', maxBytes: MiB }),
        unavailable,
      )
    }
    t.diagnostic(`3 uploads refused in ${(performance.now() - started).toFixed(0)} ms while S3 was gone`)
    assert.equal(s.gate.breakerState, 'open')
    await assert.rejects(
      s.gate.probe(),
      (error: unknown) => unavailable(error) && (error as StorageUnavailableError).breakerOpen,
    )
  })
  // Bounded polling: the breaker lets one trial through every 500 ms; the first that reaches S3 closes it.
  let closed = false
  for (let i = 0; i < 40 && !closed; i++) {
    closed = await s.gate.probe().then(
      () => true,
      () => false,
    )
    if (!closed) await sleep(100)
  }
  assert.ok(closed, 'a probe succeeded after S3 came back')
  assert.equal(s.gate.breakerState, 'closed')
  const after = await s.objects.putStream('incoming/u/after', Readable.from([randomBytes(1000)]), {
    contentType: 'image/jpeg',
    maxBytes: MiB,
  })
  assert.equal(after.bytes, 1000)
  assert.equal(
    await s.objects.head('incoming/u/0'),
    undefined,
    'no upload refused during the outage left an object',
  )
})

test('S3 hangs (every byte held): a call fails within the bounded time instead of waiting forever', async (t) => {
  const s = await proxiedStorage(t, 60_000)
  if (!s) return t.skip('no Toxiproxy in front of S3 (run on the native topology)')
  // A minute of latency holds every byte (Toxiproxy's `timeout` toxic resets the connection here,
  // which fails fast anyway): only the client's idle timeout ends the wait.
  await s.toxiproxy.withToxic(proxyName, latency({ latencyMs: 60_000 }), async () => {
    const started = performance.now()
    await assert.rejects(s.objects.head('incoming/u/x'), unavailable)
    const elapsedMs = performance.now() - started
    // The bound of the client's options (attempts × requestTimeout + backoff), not a performance target.
    assert.ok(elapsedMs >= 1000, 'it did wait for the idle timeout: S3 really hung')
    assert.ok(elapsedMs <= s.boundMs + 1000, `took ${elapsedMs.toFixed(0)} ms (bound ${s.boundMs} ms)`)
    t.diagnostic(`hung S3: head failed after ${elapsedMs.toFixed(0)} ms (bound ${s.boundMs} ms)`)
  })
})

test('S3 gone mid-upload: StorageUnavailableError, nothing acknowledged, the open multipart upload is found by the reaper query', async (t) => {
  const s = await proxiedStorage(t, 500)
  if (!s) return t.skip('no Toxiproxy in front of S3 (run on the native topology)')
  let firstPartStored: () => void = () => {}
  const stored = new Promise<void>((resolve) => {
    firstPartStored = resolve
  })
  const toxiproxy = s.toxiproxy
  async function* clientCutOffAfterOnePart() {
    yield randomBytes(6 * MiB)
    // Part 1 is in S3 (the multipart upload exists): take S3 away before the rest arrives.
    await stored
    await toxiproxy.disableProxy(proxyName)
    yield randomBytes(6 * MiB)
  }
  const startedAt = new Date()
  await assert.rejects(
    s.objects.putStream('incoming/u/cut', Readable.from(clientCutOffAfterOnePart()), {
      contentType: 'image/jpeg',
      maxBytes: 64 * MiB,
      onPartStored: () => firstPartStored(),
    }),
    unavailable,
  )
  await s.toxiproxy.enableProxy(proxyName)
  assert.equal(await s.objects.head('incoming/u/cut'), undefined, 'no object: the upload was never completed')
  // The abort could not reach S3 either: the parts stay until the reaper aborts them.
  const open = await s.uploads.listIncompleteMultipart('incoming/', new Date(Date.now() + 1000))
  assert.deepEqual(
    open.map((u) => u.key),
    ['incoming/u/cut'],
  )
  // S3 keeps whole seconds: the upload began in this test, not in an earlier run.
  assert.ok((open[0]?.initiatedAt ?? new Date(0)).getTime() >= startedAt.getTime() - 1000)
  await s.uploads.abortMultipart('incoming/u/cut', open[0]?.uploadId as string)
  assert.deepEqual(await s.uploads.listIncompleteMultipart('incoming/', new Date(Date.now() + 1000)), [])
})
