/**
 * The thread sandbox with real threads and real sharp: a hung, crashing or memory-hungry
 * processor costs its thread and its job — which fails with a reason — while this process and
 * the pool go on processing. The misbehaving processor is corpus/poison-processor.ts (the job's
 * bytes say what it does; any other bytes are processed for real). No assertion depends on speed:
 * the hung thread never answers, so only the time limit can end it.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import sharp from 'sharp'
import { ProcessingError } from '../src/processor/errors.ts'
import { defaultLimits } from '../src/processor/limits.ts'
import { ProcessorThread } from '../src/processor/processor-thread.ts'
import {
  defaultWorkerEntry,
  runSandboxed,
  SandboxPool,
  ThreadWaitExpiredError,
} from '../src/processor/sandbox.ts'
import * as corpus from './corpus/corpus.ts'
import { hostileCases } from './corpus/hostile-cases.ts'

const poisonEntry = new URL('./corpus/poison-processor.ts', import.meta.url)
/** For the jobs that hang (only the limit ends them); real images get the default 30 s. */
const hangLimits = { ...defaultLimits, maxTimeMs: 1_000 }
const limits = defaultLimits

let jpeg: Buffer
let gps: Buffer
before(async () => {
  jpeg = await corpus.plainJpeg()
  gps = await corpus.jpegWithGpsAndOrientation6()
})

async function failure(promise: Promise<unknown>): Promise<{ code: string; reason: string }> {
  const err = await promise.then(
    () => assert.fail('expected the job to fail'),
    (e: unknown) => e,
  )
  assert.ok(err instanceof ProcessingError, `not a ProcessingError: ${err}`)
  return err.toJSON()
}

test('runSandboxed: an image processed in a thread comes back whole, as Buffers, without metadata', async () => {
  const image = await runSandboxed(gps, defaultLimits)
  assert.deepEqual([image.width, image.height], [32, 64])
  assert.equal(image.variants.length, 4)
  for (const variant of image.variants) {
    assert.ok(Buffer.isBuffer(variant.bytes))
    assert.equal((await sharp(variant.bytes).metadata()).exif, undefined)
  }
})

test('a 12-megapixel HEIC decodes in a thread (libheif WebAssembly) under the default heap cap', async () => {
  // Its 48 MB of RGBA and libheif's memory are ArrayBuffers, outside the thread's 64 MB V8 heap.
  const image = await runSandboxed(await corpus.heic12Megapixels(), defaultLimits)
  assert.equal(image.mime, 'image/heic')
  assert.deepEqual([image.width, image.height], [4032, 3024])
})

test("a thread is retired after a HEIC leaves the decoder's WebAssembly memory past its cap, and kept below it", async () => {
  // The decoder's heap grows to the image and never shrinks (≈ 100 MB after 12 MP): only the
  // thread's end returns it.
  const heic = await corpus.heic12Megapixels()
  const options = { maxOldGenerationSizeMb: 64, maxJobs: 500, entry: defaultWorkerEntry }
  const capped = new ProcessorThread({ ...options, maxWasmBytes: 64 * 1024 * 1024 })
  const roomy = new ProcessorThread({ ...options, maxWasmBytes: 1024 * 1024 * 1024 })
  try {
    for (const thread of [capped, roomy]) {
      const image = await thread.run(heic, defaultLimits, Date.now())
      assert.deepEqual([image.width, image.height], [4032, 3024])
    }
    assert.equal(capped.alive, false, 'past the cap: retired after its job (which succeeded)')
    assert.equal(roomy.alive, true, 'under the cap: kept')
    // A JPEG never loads the decoder: nothing to retire for.
    const jpegOnly = new ProcessorThread({ ...options, maxWasmBytes: 1 })
    await jpegOnly.run(jpeg, defaultLimits, Date.now())
    assert.equal(jpegOnly.alive, true)
    await jpegOnly.close()
  } finally {
    await capped.close()
    await roomy.close()
  }
})

describe('a pool of two threads behind a misbehaving processor', () => {
  const pool = new SandboxPool({ size: 2, entry: poisonEntry, maxOldGenerationSizeMb: 32 })
  after(() => pool.close())

  test('a thread that never answers is terminated at the time limit; the reason says so', async () => {
    const started = Date.now()
    assert.deepEqual(await failure(pool.run(Buffer.from('hang'), hangLimits, { startedAtMs: started })), {
      code: 'PHOTOS_ERR_TIMEOUT',
      reason: 'processing took longer than 1 s',
    })
  })

  test('the limit counts from the job start: a job already past it is thrown back without running, not failed', async () => {
    const startedAtMs = Date.now() - 5_000 // e.g. a job whose start was recorded before a backlog
    await assert.rejects(pool.run(Buffer.from('hang'), hangLimits, { startedAtMs }), ThreadWaitExpiredError)
  })

  test('a thread that exits mid-job: the job fails as crashed', async () => {
    assert.deepEqual(await failure(pool.run(Buffer.from('exit'), limits)), {
      code: 'PHOTOS_ERR_CRASHED',
      reason: 'the image processor crashed',
    })
  })

  test('an uncaught exception in the thread: the job fails as crashed', async () => {
    const err = await failure(pool.run(Buffer.from('throw'), limits))
    assert.equal(err.code, 'PHOTOS_ERR_CRASHED')
  })

  test('a thread that fills its heap is ended by V8 at its cap: "processing ran out of memory"', async () => {
    assert.deepEqual(await failure(pool.run(Buffer.from('oom'), limits)), {
      code: 'PHOTOS_ERR_CRASHED',
      reason: 'processing ran out of memory',
    })
  })

  test('after all that, this process and the pool still process images, two at a time', async () => {
    assert.ok(process.uptime() > 0) // still here: none of the above took the test process down
    const images = await Promise.all([jpeg, gps, jpeg].map((bytes) => pool.run(bytes, limits)))
    assert.deepEqual(
      images.map((i) => `${i.width}×${i.height}`),
      ['800×600', '32×64', '800×600'],
    )
  })

  test("a job whose limit passes while it waits for a thread is retried, not failed as the image's fault", async () => {
    const single = new SandboxPool({ size: 1, entry: poisonEntry })
    try {
      const hung = failure(single.run(Buffer.from('hang'), hangLimits))
      const waited = await single.run(jpeg, { ...limits, maxTimeMs: 300 }).then(
        () => assert.fail('the job waited past its limit and still ran'),
        (e: unknown) => e,
      )
      assert.ok(waited instanceof ThreadWaitExpiredError, `${waited}`)
      assert.ok(!(waited instanceof ProcessingError))
      assert.equal((await hung).code, 'PHOTOS_ERR_TIMEOUT')
      // The thread that replaced the hung one takes the retry.
      assert.equal((await single.run(jpeg, limits)).width, 800)
    } finally {
      await single.close()
    }
  })

  test('a hung job holds one thread, not the pool: another job completes meanwhile', async () => {
    const hung = failure(pool.run(Buffer.from('hang'), hangLimits))
    const image = await pool.run(jpeg, limits)
    assert.equal(image.width, 800)
    assert.equal((await hung).code, 'PHOTOS_ERR_TIMEOUT')
  })
})

describe('the hostile corpus through the real thread', () => {
  const pool = new SandboxPool({ size: 1 })
  after(() => pool.close())

  for (const c of hostileCases(() => jpeg))
    test(c.name, async () => {
      assert.deepEqual(await failure(pool.run(c.bytes(), defaultLimits)), { code: c.code, reason: c.reason })
    })

  test('and the same thread then processes an ordinary image; a closed pool refuses work', async () => {
    const image = await pool.run(corpus.jpegZipPolyglot(jpeg), defaultLimits)
    assert.equal(image.mime, 'image/jpeg')
    await pool.close()
    await assert.rejects(pool.run(jpeg, defaultLimits), /the sandbox pool is closed/)
  })
})
