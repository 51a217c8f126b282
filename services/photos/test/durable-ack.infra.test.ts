/**
 * durableAck (pm08's switch) on real S3 behind its Toxiproxy proxy, taken away mid-test: hardened,
 * an upload while S3 is gone is a 503 + Retry-After and nothing is acknowledged — the client's
 * retry after S3 returns is processed; naive, the upload is answered 201 from a local spool, the
 * S3 write fails behind the client's back, and the acknowledged photo never becomes ready.
 * Changes the shared proxy: run under the infra lock.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import sharp from 'sharp'
import { photosHarness, settled, upload, withS3Down } from './helpers.ts'

const image = (shade: number) =>
  sharp({ create: { width: 40, height: 30, channels: 3, background: { r: shade, g: 90, b: 30 } } })
    .jpeg()
    .toBuffer()

test('hardened: while S3 is gone an upload is a 503 with Retry-After; the retry afterwards is processed', async (t) => {
  const h = await photosHarness(t, { need: ['toxiproxy'] })
  const { baseUrl } = await h.startApi()
  await h.startWorker()
  const bytes = await image(10)
  const refused = await withS3Down(h, () => upload(baseUrl, 'gina', bytes))
  assert.equal(refused.status, 503)
  assert.ok(Number(refused.headers.get('retry-after')) >= 1)
  assert.equal(refused.body.code, 'PHOTOS_ERR_STORAGE_UNAVAILABLE')
  const rows = await h.db.query('SELECT count(*)::int AS n FROM photos')
  assert.equal(rows.rows[0].n, 0, 'nothing was acknowledged, nothing recorded')
  const retried = await upload(baseUrl, 'gina', bytes)
  assert.equal(retried.status, 201)
  assert.equal((await settled(baseUrl, 'gina', retried.body.id)).status, 'ready')
})

test('naive (durableAck off): a 201 while S3 is gone, and the acknowledged photo is lost', async (t) => {
  const h = await photosHarness(t, { need: ['toxiproxy'] })
  const { baseUrl } = await h.startApi({ mitigations: { durableAck: false } })
  await h.startWorker({ env: { JOB_ATTEMPTS: '2' } })
  const acknowledged = await withS3Down(h, async () => {
    const res = await upload(baseUrl, 'hank', await image(200))
    // The spooled write runs behind the 201; give it the time to fail while S3 is still gone.
    await new Promise((r) => setTimeout(r, 3000))
    return res
  })
  assert.equal(acknowledged.status, 201, 'acknowledged without a durable object')
  const end = await settled(baseUrl, 'hank', acknowledged.body.id, 60_000)
  assert.equal(end.status, 'failed', 'the acknowledged upload was never processed')
  assert.deepEqual(await h.objects('incoming/hank/'), [], 'its bytes never reached S3')
})
