/**
 * The two lanes on real Postgres, S3 and the queue Redis (Immich's #12578: new uploads stuck
 * behind "regenerate all"): "reprocess all" (the admin route and the CLI) puts every photo on the
 * backfill lane; a new upload is processed while that backlog still waits; the backfill worker
 * holds while a new upload waits longer than NEW_LANE_SLO_MS and resumes after. Counts, never
 * times: with one FIFO queue the upload enqueued after the backlog would be processed last, so
 * the backlog would be empty by the time it is ready.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import sharp from 'sharp'
import { Keys } from '../src/keys.ts'
import { LaneQueues, queueConnection } from '../src/queue/lanes.ts'
import { PhotoRepository } from '../src/repositories/photos.ts'
import { type PhotosHarness, photosHarness, settled, upload } from './helpers.ts'

const backlogSize = 40
const reprocessScript = fileURLToPath(new URL('../scripts/reprocess.ts', import.meta.url))

/**
 * A JPEG of this size and colour. Shades at least ~16 apart give distinct bytes (no dedupe): JPEG's
 * quantization maps neighbouring solid colours to the same file.
 */
function jpeg(width: number, height: number, shade: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: shade, g: 90, b: 200 - shade } } })
    .jpeg()
    .toBuffer()
}

/**
 * `n` photos that failed earlier (one original each in S3, rows `failed`, no job anywhere): what
 * "reprocess all" is for. The same bytes under n owners, so one image serves them all.
 */
async function seedFailedPhotos(h: PhotosHarness, n: number): Promise<string[]> {
  const bytes = await jpeg(1600, 1200, 10)
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  const photos = new PhotoRepository(h.db)
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const key = `incoming/seed-${i}/original`
    await h.s3.send(new PutObjectCommand({ Bucket: h.bucket, Key: key, Body: bytes }))
    const { photo } = await photos.createOrFind({
      ownerId: `seed-${i}`,
      sha256,
      bytes: bytes.length,
      originalKey: key,
    })
    await photos.markFailed(photo.id, 'seeded: failed before an upgrade of the processor')
    ids.push(photo.id)
  }
  return ids
}

/** The test's lanes, as the API and the worker see them (same QUEUE_PREFIX). */
function lanesOf(h: PhotosHarness): LaneQueues {
  const c = h.config()
  const queues = new LaneQueues({
    connection: queueConnection(c.queueRedisUrl),
    keys: new Keys(c.redisKeyPrefix, c.queuePrefix),
    attempts: () => c.jobAttempts,
  })
  h.infra.defer(() => queues.close())
  return queues
}

async function countByStatus(h: PhotosHarness): Promise<Record<string, number>> {
  const { rows } = await h.db.query<{ status: string; n: number }>(
    'SELECT status, count(*)::int AS n FROM photos GROUP BY status',
  )
  return Object.fromEntries(rows.map((r) => [r.status, r.n]))
}

/** Polls `check` until it returns true, failing after `timeoutMs` with what it last saw. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting: ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

test('POST /admin/reprocess fills the backfill lane; a new upload is ready while that backlog still waits', async (t) => {
  const h = await photosHarness(t)
  const token = 'lanes-admin-token'
  const { baseUrl } = await h.startApi({ env: { ADMIN_TOKEN: token } })
  const queues = lanesOf(h)
  const seeded = await seedFailedPhotos(h, backlogSize)
  const reprocess = (headers: Record<string, string>, body: unknown) =>
    fetch(`${baseUrl}/admin/reprocess`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })

  // Guarded like /admin/mitigations, and the body must say "all".
  const anonymous = await reprocess({}, { all: true })
  assert.equal(anonymous.status, 401)
  assert.equal(((await anonymous.json()) as { code: string }).code, 'PHOTOS_ERR_UNAUTHORIZED')
  const auth = { authorization: `Bearer ${token}` }
  for (const body of [{}, { all: 'yes' }, { all: false }, []]) {
    const res = await reprocess(auth, body)
    assert.equal(res.status, 400, JSON.stringify(body))
    assert.equal(((await res.json()) as { field: string }).field, 'body.all')
  }
  assert.deepEqual(await queues.backlog(), { new: 0, backfill: 0 }, 'a refused request enqueued nothing')

  const accepted = await reprocess(auth, { all: true })
  assert.equal(accepted.status, 202)
  const run = (await accepted.json()) as { runId: string; enqueued: number }
  assert.equal(run.enqueued, backlogSize)
  assert.ok(run.runId.length > 0)
  assert.deepEqual(await queues.backlog(), { new: 0, backfill: backlogSize })

  // The new upload is enqueued after the whole backlog; the worker starts with one slot per lane.
  const fresh = await upload(baseUrl, 'newcomer', await jpeg(640, 480, 150))
  assert.equal(fresh.status, 201)
  await h.startWorker({ env: { WORKER_CONCURRENCY_NEW: '1', WORKER_CONCURRENCY_BACKFILL: '1' } })
  assert.equal((await settled(baseUrl, 'newcomer', fresh.body.id, 60_000)).status, 'ready')
  const behind = await queues.backlog()
  // One FIFO queue would have processed the upload after all 40 backfill jobs: none left waiting.
  assert.ok(
    behind.backfill > backlogSize / 2,
    `the upload was ready with ${behind.backfill} of ${backlogSize} backfill jobs still waiting`,
  )

  // The backfill drains too: every failed photo is reprocessed into a ready one with variants.
  await until('the backfill lane drains', async () => (await countByStatus(h)).ready === backlogSize + 1)
  const again = await new PhotoRepository(h.db).byId(seeded[0] as string)
  assert.equal(again?.reason, null)
  assert.equal(again?.variants.length, 4)
})

test('the backfill lane holds while a new upload waits past NEW_LANE_SLO_MS, then resumes', async (t) => {
  const h = await photosHarness(t)
  const { baseUrl } = await h.startApi()
  const queues = lanesOf(h)
  await seedFailedPhotos(h, backlogSize)

  // "reprocess all" from the CLI, against the database and the queue directly, in pages of 16.
  const cli = await promisify(execFile)(process.execPath, [reprocessScript, '--page-size', '16'], {
    env: { ...process.env, ...h.env },
  })
  assert.match(
    cli.stdout,
    new RegExp(`^run [\\w-]+: ${backlogSize} photos enqueued on photos-backfill\\n$`),
    cli.stderr,
  )
  assert.deepEqual(
    [...cli.stderr.matchAll(/(\d+) enqueued/g)].map((m) => Number(m[1])),
    [16, 32, 40],
    'progress after each page',
  )
  assert.deepEqual(await queues.backlog(), { new: 0, backfill: backlogSize })

  // Eight uploads wait on the new lane (one slot) before the worker starts: all past a 1 ms SLO.
  const uploads = 8
  for (let i = 0; i < uploads; i++) {
    assert.equal((await upload(baseUrl, 'burst', await jpeg(2400, 1800, 60 + 20 * i))).status, 201)
  }
  const worker = await h.startWorker({
    env: { WORKER_CONCURRENCY_NEW: '1', WORKER_CONCURRENCY_BACKFILL: '1', NEW_LANE_SLO_MS: '1' },
  })

  // Sample the hold and both backlogs until the new lane is empty and the hold released.
  let firstHeld: { new: number; backfill: number } | undefined
  let lowestBackfillWhileHeld = Number.POSITIVE_INFINITY
  let released = false
  await until('the new lane drains and the backfill lane is released', async () => {
    const held = worker.workers.backfillHeld
    const backlog = await queues.backlog()
    if (held) {
      firstHeld ??= backlog
      lowestBackfillWhileHeld = Math.min(lowestBackfillWhileHeld, backlog.backfill)
    }
    released = firstHeld !== undefined && !held && backlog.new === 0
    return released
  })
  assert.ok(firstHeld, 'the backfill lane was held')
  assert.ok(firstHeld.new > 0, `held while ${firstHeld.new} new uploads waited`)
  // Held means no backfill job starts: at most the one whose fetch was under way when it paused.
  assert.ok(
    firstHeld.backfill - lowestBackfillWhileHeld <= 1,
    `backfill jobs started while held: ${firstHeld.backfill - lowestBackfillWhileHeld}`,
  )
  assert.ok(firstHeld.backfill > 0, 'the backfill still had work when it was held')

  // Released: the backfill lane resumes and drains.
  await until('the backfill lane drains after the hold', async () => {
    const backlog = await queues.backlog()
    return backlog.backfill === 0 && (await countByStatus(h)).ready === backlogSize + uploads
  })
  assert.equal(worker.workers.backfillHeld, false)
})
