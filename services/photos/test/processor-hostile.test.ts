/**
 * The hostile corpus through `processImage` (in-process, real sharp): each file is refused or
 * failed with a reason a user can read — never an unhandled exception, never a raw libvips
 * message. The same corpus through the thread sandbox is in processor-sandbox.test.ts.
 */
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import sharp from 'sharp'
import { ProcessingError } from '../src/processor/errors.ts'
import { defaultLimits } from '../src/processor/limits.ts'
import { processImage } from '../src/processor/process-image.ts'
import * as corpus from './corpus/corpus.ts'
import { hostileCases } from './corpus/hostile-cases.ts'

let jpeg: Buffer
before(async () => {
  jpeg = await corpus.plainJpeg()
})

describe('hostile files are refused with a readable reason', () => {
  for (const c of hostileCases(() => jpeg))
    test(c.name, async () => {
      const err = await processImage(c.bytes(), defaultLimits).then(
        () => assert.fail('processed a hostile file'),
        (e: unknown) => e,
      )
      assert.ok(err instanceof ProcessingError, `not a ProcessingError: ${err}`)
      assert.deepEqual(err.toJSON(), { code: c.code, reason: c.reason })
    })
})

test('the frame limit is the limit: 100 frames pass, 101 do not', async () => {
  const ok = await processImage(corpus.manyFramesGif(100), defaultLimits)
  assert.deepEqual([ok.width, ok.height], [1, 1])
  const err = await processImage(corpus.manyFramesGif(101), defaultLimits).catch((e: unknown) => e)
  assert.equal((err as ProcessingError).reason, 'too many frames: 101 (limit 100)')
})

test('a JPEG+ZIP polyglot is processed as the JPEG it also is; the archive does not survive', async () => {
  const polyglot = corpus.jpegZipPolyglot(jpeg)
  const image = await processImage(polyglot, defaultLimits)
  assert.equal(image.mime, 'image/jpeg')
  assert.deepEqual([image.width, image.height], [800, 600])
  for (const variant of image.variants) {
    assert.equal(variant.bytes.includes(Buffer.from('PK\x03\x04', 'latin1')), false)
    assert.equal(variant.bytes.includes(Buffer.from('payload.txt')), false)
  }
})

test('an all-zero PNG just under the pixel limit (6 000 × 6 000 = 36 MP) is processed, not refused', async () => {
  const image = await processImage(corpus.zeroPng(6_000), defaultLimits)
  assert.deepEqual([image.width, image.height], [6_000, 6_000])
  const preview = image.variants.find((v) => v.name === 'preview' && v.format === 'jpeg')
  assert.ok(preview)
  assert.deepEqual([preview.width, preview.height], [1280, 1280])
  assert.equal((await sharp(preview.bytes).stats()).channels[0]?.max, 0, 'all black')
})

test('a lower pixel limit from config is the one enforced and named', async () => {
  const limits = { ...defaultLimits, maxPixels: 400_000 }
  const err = await processImage(jpeg, limits).catch((e: unknown) => e)
  assert.deepEqual((err as ProcessingError).toJSON(), {
    code: 'PHOTOS_ERR_TOO_MANY_PIXELS',
    reason: 'image too large: 800×600 pixels (limit 0.4 megapixels)',
  })
})
