/**
 * The storage module against an S3 that is not there (a closed port on 127.0.0.1, no shared
 * infra): every call fails within the client's bounded time with StorageUnavailableError, the
 * breaker opens and then refuses calls without trying S3, and the `s3Breaker` switch turns it off.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import {
  createS3,
  createStorage,
  type S3ClientOptions,
  StorageUnavailableError,
  worstCaseCallMs,
} from '../src/storage/index.ts'

const MiB = 1024 * 1024

/** A port that refuses connections: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function deadStorage(t: test.TestContext, breakerEnabled: () => boolean) {
  const options: S3ClientOptions = {
    endpoint: `http://127.0.0.1:${await closedPort()}`,
    accessKeyId: 'faultline',
    secretAccessKey: 'faultline-secret',
    connectTimeoutMs: 500,
    idleTimeoutMs: 1000,
    requestTimeoutMs: 3000,
    maxAttempts: 2,
  }
  const client = createS3(options)
  t.after(() => client.destroy())
  const storage = createStorage({
    client,
    bucket: 'photos',
    breakerEnabled,
    breaker: { consecutiveFailures: 3, openMs: 60_000 },
  })
  return { ...storage, boundMs: worstCaseCallMs(options) }
}

function unavailable(breakerOpen: boolean) {
  return (error: unknown) =>
    error instanceof StorageUnavailableError &&
    error.statusCode === 503 &&
    error.breakerOpen === breakerOpen &&
    Number(error.headers['retry-after']) >= 1
}

test('a dead S3: putStream fails with StorageUnavailableError within the bounded time and destroys its source', async (t) => {
  const s = await deadStorage(t, () => false)
  const source = Readable.from([randomBytes(6 * MiB), randomBytes(1 * MiB)])
  const started = performance.now()
  await assert.rejects(
    s.objects.putStream('incoming/u/x', source, { contentType: 'image/jpeg', maxBytes: 64 * MiB }),
    unavailable(false),
  )
  const elapsedMs = performance.now() - started
  // Not a performance assertion: the SDK's defaults have no timeout at all, so this is the
  // contract "a dead S3 fails in bounded time" (three calls: create, a part, the abort).
  assert.ok(elapsedMs < 3 * s.boundMs, `took ${elapsedMs.toFixed(0)} ms (bound ${3 * s.boundMs} ms)`)
  assert.ok(source.destroyed)
  t.diagnostic(`dead S3 (connection refused): putStream failed after ${elapsedMs.toFixed(0)} ms`)
})

test('the breaker opens after 3 failures and then refuses at once, with Retry-After from its cool-down', async (t) => {
  const s = await deadStorage(t, () => true)
  for (let i = 0; i < 3; i++) await assert.rejects(s.objects.head('a'), unavailable(false))
  assert.equal(s.gate.breakerState, 'open')
  await assert.rejects(s.objects.head('a'), (error: unknown) => {
    assert.ok(unavailable(true)(error))
    assert.ok(
      Number((error as StorageUnavailableError).headers['retry-after']) > 50,
      'about the 60 s cool-down',
    )
    return true
  })
  const source = Readable.from([randomBytes(1000)])
  await assert.rejects(
    s.objects.putStream('k', source, { contentType: 'image/jpeg', maxBytes: MiB }),
    unavailable(true),
  )
  assert.ok(source.destroyed, 'a refused upload does not leave its source hanging')
  await assert.rejects(s.gate.probe(), unavailable(true))
})

test('the s3Breaker switch off: every call tries S3 (never breakerOpen); flipping it on at run time arms it', async (t) => {
  let enabled = false
  const s = await deadStorage(t, () => enabled)
  for (let i = 0; i < 5; i++) await assert.rejects(s.objects.delete('a'), unavailable(false))
  assert.equal(s.gate.breakerState, 'closed')
  enabled = true
  for (let i = 0; i < 3; i++)
    await assert.rejects(s.uploads.createMultipart('a', { contentType: 'image/jpeg' }), unavailable(false))
  await assert.rejects(s.uploads.listIncompleteMultipart('incoming/', new Date()), unavailable(true))
  enabled = false
  assert.equal(s.gate.breakerState, 'closed', 'off again: closed, the next call tries S3')
  await assert.rejects(s.objects.sha256Of('a'), unavailable(false))
})

test('signing needs no S3: presigned URLs are made while S3 is dead', async (t) => {
  const s = await deadStorage(t, () => true)
  const put = await s.uploads.presignPut('incoming/u/1', { contentType: 'image/png', size: 10 })
  assert.match(put.url, /X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost/)
  assert.doesNotMatch(put.url, /x-amz-checksum/, 'no checksum of an empty body in the URL')
  assert.match(await s.uploads.presignGet('variants/a.webp', 60), /X-Amz-Expires=60/)
})
