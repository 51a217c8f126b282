/**
 * The processor on ordinary images, with real sharp: what comes out (sizes, formats, rotation,
 * placeholder) and what must never come out (EXIF, GPS, XMP, ICC). Every image is generated in
 * memory by corpus/corpus.ts; no test depends on how fast this machine is.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { before, describe, test } from 'node:test'
import sharp from 'sharp'
import { thumbHashToRGBA } from 'thumbhash'
import { type ProcessingError, processingErrorCodes } from '../src/processor/errors.ts'
import { defaultLimits, formatMegapixels, resolveLimits } from '../src/processor/limits.ts'
import { type ProcessedImage, processImage } from '../src/processor/process-image.ts'
import { allowedTypes, sniff } from '../src/processor/sniff.ts'
import { variantTable } from '../src/processor/variants.ts'
import * as corpus from './corpus/corpus.ts'

async function refusal(promise: Promise<unknown>): Promise<ProcessingError> {
  const err = await promise.then(
    () => assert.fail('expected the image to be refused'),
    (e: unknown) => e,
  )
  assert.equal((err as Error).name, 'ProcessingError', String(err))
  return err as ProcessingError
}

/** The sRGB colour at (x, y) of an encoded image. */
async function pixel(bytes: Buffer, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true })
  const at = (y * info.width + x) * info.channels
  return [...data.subarray(at, at + 3)]
}

describe('a JPEG with EXIF GPS, XMP and orientation 6', () => {
  let original: Buffer
  let image: ProcessedImage
  before(async () => {
    original = await corpus.jpegWithGpsAndOrientation6()
    image = await processImage(original, defaultLimits)
  })

  test('the fixture really carries the metadata (so the next test can fail)', async () => {
    const meta = await sharp(original).metadata()
    assert.equal(meta.orientation, 6)
    assert.ok(meta.exif?.includes(Buffer.from('FaultlineCam')))
    assert.ok(meta.exif?.includes(Buffer.from('N\0')), 'GPSLatitudeRef is in the EXIF block')
    assert.ok(meta.xmp !== undefined)
  })

  test('no variant carries EXIF, GPS, XMP, IPTC or ICC — sharp strips them by default', async () => {
    assert.equal(image.variants.length, variantTable.length)
    for (const variant of image.variants) {
      const meta = await sharp(variant.bytes).metadata()
      const where = `${variant.name}.${variant.format}`
      assert.equal(meta.exif, undefined, `${where} has EXIF`)
      assert.equal(meta.xmp, undefined, `${where} has XMP`)
      assert.equal(meta.iptc, undefined, `${where} has IPTC`)
      assert.equal(meta.icc, undefined, `${where} has an ICC profile`)
      assert.equal(meta.orientation, undefined, `${where} has an orientation tag`)
      assert.equal(
        variant.bytes.includes(Buffer.from('FaultlineCam')),
        false,
        `${where} holds the camera make`,
      )
      assert.equal(variant.bytes.includes(Buffer.from('GPS')), false, `${where} holds a GPS tag`)
    }
  })

  test('is auto-oriented: 64×32 stored sideways is served 32×64, the left (red) half on top', async () => {
    assert.deepEqual([image.width, image.height], [32, 64])
    for (const variant of image.variants) {
      assert.deepEqual([variant.width, variant.height], [32, 64], `${variant.name}.${variant.format}`)
      const [top, bottom] = [await pixel(variant.bytes, 16, 8), await pixel(variant.bytes, 16, 56)]
      assert.ok((top[0] ?? 0) > 200 && (top[2] ?? 255) < 60, `top is red in ${variant.format}: ${top}`)
      assert.ok(
        (bottom[2] ?? 0) > 200 && (bottom[0] ?? 255) < 60,
        `bottom is blue in ${variant.format}: ${bottom}`,
      )
    }
  })

  test('each variant is what it says: format, size, sha256 of its bytes', async () => {
    for (const variant of image.variants) {
      const meta = await sharp(variant.bytes).metadata()
      assert.equal(meta.format, variant.format)
      assert.deepEqual([meta.width, meta.height], [variant.width, variant.height])
      assert.equal(variant.sha256, createHash('sha256').update(variant.bytes).digest('hex'))
    }
    assert.equal(image.mime, 'image/jpeg')
    assert.equal(image.format, 'jpeg')
  })
})

test('a large image is fit inside each size, never enlarged; variants come in table order', async () => {
  const image = await processImage(await corpus.plainJpeg(), defaultLimits) // 800×600
  assert.deepEqual(
    image.variants.map((v) => `${v.name}.${v.format} ${v.width}×${v.height}`),
    ['thumb.webp 256×192', 'thumb.jpeg 256×192', 'preview.webp 800×600', 'preview.jpeg 800×600'],
  )
})

test('a PNG with alpha: WebP keeps the transparency, JPEG shows it on white', async () => {
  const image = await processImage(await corpus.pngWithAlpha(), defaultLimits)
  const webp = image.variants.find((v) => v.name === 'preview' && v.format === 'webp')
  const jpeg = image.variants.find((v) => v.name === 'preview' && v.format === 'jpeg')
  assert.ok(webp && jpeg)
  const webpMeta = await sharp(webp.bytes).metadata()
  assert.equal(webpMeta.hasAlpha, true)
  const { data, info } = await sharp(webp.bytes).raw().toBuffer({ resolveWithObject: true })
  assert.equal(data[(10 * info.width + 280) * 4 + 3], 0, 'the right half is transparent')
  assert.equal(data[(10 * info.width + 20) * 4 + 3], 255, 'the left half is opaque')
  assert.deepEqual(await pixel(jpeg.bytes, 280, 10), [255, 255, 255])
  const placeholder = thumbHashToRGBA(Buffer.from(image.placeholder, 'base64'))
  assert.ok(placeholder.w > 0 && placeholder.h > 0)
})

test('an animated GIF gives still variants of its first frame', async () => {
  const image = await processImage(await corpus.animatedGif(), defaultLimits)
  assert.equal(image.mime, 'image/gif')
  for (const variant of image.variants) {
    const meta = await sharp(variant.bytes).metadata()
    assert.equal(meta.pages ?? 1, 1, `${variant.name}.${variant.format} is animated`)
    const [r, g, b] = await pixel(variant.bytes, 25, 20)
    assert.ok((r ?? 0) > 200 && (g ?? 255) < 60 && (b ?? 255) < 60, `first frame is red: ${[r, g, b]}`)
  }
})

test('a 16-bit PNG and a TIFF become 8-bit sRGB variants', async () => {
  for (const original of [await corpus.png16Bit(), await corpus.tiff()]) {
    const image = await processImage(original, defaultLimits)
    for (const variant of image.variants) {
      const meta = await sharp(variant.bytes).metadata()
      assert.equal(meta.depth, 'uchar')
      assert.equal(meta.space, 'srgb')
    }
  }
})

test('CMYK, greyscale with alpha and AVIF all come out as 3-band sRGB JPEGs of the right colour', async () => {
  const cases = [
    { original: await corpus.cmykJpeg(), mime: 'image/jpeg', near: [255, 0, 0] },
    { original: await corpus.greyAlphaPng(), mime: 'image/png', near: [128, 128, 128] },
    { original: await corpus.avif(), mime: 'image/avif', near: [0, 255, 0] },
  ]
  for (const { original, mime, near } of cases) {
    const image = await processImage(original, defaultLimits)
    assert.equal(image.mime, mime)
    const jpeg = image.variants.find((v) => v.format === 'jpeg')
    assert.ok(jpeg)
    assert.equal((await sharp(jpeg.bytes).metadata()).channels, 3)
    const colour = await pixel(jpeg.bytes, 50, 40)
    assert.ok(
      colour.every((c, i) => Math.abs(c - (near[i] ?? 0)) < 32),
      `${mime}: ${colour} is near ${near}`,
    )
  }
})

describe('HEIC (HEVC in HEIF), which this sharp build cannot decode', () => {
  test('an iPhone-style HEIC with EXIF: decoded, every variant made, no metadata served', async () => {
    const original = await corpus.heicWithExif()
    const meta = await sharp(original).metadata()
    assert.equal(meta.compression, 'hevc')
    assert.ok(meta.exif !== undefined, 'the fixture carries an EXIF block (so the check below can fail)')
    const image = await processImage(original, defaultLimits)
    assert.equal(image.mime, 'image/heic')
    assert.equal(image.format, 'heif')
    assert.deepEqual([image.width, image.height], [480, 320])
    assert.equal(image.variants.length, variantTable.length)
    const exifBody = meta.exif.subarray(meta.exif.length - 64) // its GPS IFD and values
    for (const variant of image.variants) {
      const where = `${variant.name}.${variant.format}`
      const vm = await sharp(variant.bytes).metadata()
      assert.equal(vm.exif, undefined, `${where} has EXIF`)
      assert.equal(vm.icc, undefined, `${where} has an ICC profile`)
      assert.equal(variant.bytes.includes(exifBody), false, `${where} holds the original's EXIF`)
    }
    assert.ok(image.placeholder.length > 0)
  })

  test('a 12-megapixel HEIC comes out at the variant sizes', async () => {
    const image = await processImage(await corpus.heic12Megapixels(), defaultLimits)
    assert.deepEqual([image.width, image.height], [4032, 3024])
    for (const spec of variantTable) {
      const v = image.variants.find((x) => x.name === spec.name && x.format === spec.format)
      assert.ok(v, `${spec.name}.${spec.format}`)
      assert.ok(
        Math.max(v.width, v.height) <= 4032 && v.width > v.height,
        `${spec.name}: ${v.width}×${v.height}`,
      )
    }
  })

  test('a truncated HEIC fails as corrupt, whatever libheif says', async () => {
    const whole = await corpus.heic12Megapixels()
    const err = await refusal(processImage(whole.subarray(0, whole.length >> 1), defaultLimits))
    assert.equal(err.code, 'PHOTOS_ERR_CORRUPT')
    assert.equal(err.reason, 'corrupt or truncated image')
  })
})

test('the input can be a stream, and a stream past maxBytes is cut off with the reason', async () => {
  const jpeg = await corpus.plainJpeg()
  const chunks = (bytes: Buffer) => Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)])
  const image = await processImage(chunks(jpeg), defaultLimits)
  assert.equal(image.width, 800)
  const limits = resolveLimits({ maxBytes: 50_000 })
  const err = await refusal(processImage(chunks(jpeg), limits))
  assert.equal(err.code, 'PHOTOS_ERR_FILE_TOO_LARGE')
  assert.equal(err.reason, 'file too large: more than 0.1 MB (limit 0.1 MB)')
  const fromBuffer = await refusal(processImage(jpeg, limits))
  assert.match(fromBuffer.reason, /^file too large: [\d.]+ MB \(limit 0\.1 MB\)$/)
})

test('a job started longer ago than the time limit fails as timed out (counted from its start)', async () => {
  const err = await refusal(
    processImage(await corpus.plainJpeg(), defaultLimits, { startedAtMs: Date.now() - 31_000 }),
  )
  assert.equal(err.code, 'PHOTOS_ERR_TIMEOUT')
  assert.equal(err.reason, 'processing took longer than 30 s')
})

describe('sniff: the type from magic bytes', () => {
  test('the allow-list, HEIC included (decoded without sharp where it cannot)', () => {
    const types = allowedTypes()
    const expected = [
      'image/jpeg',
      'image/png',
      'image/webp',
      'image/gif',
      'image/avif',
      'image/tiff',
      'image/heic',
    ]
    for (const t of expected) assert.ok(types.includes(t), t)
    assert.equal(types.includes('image/svg+xml'), false)
  })

  test('names what it refuses: SVG (with or without a prolog), text, unknown bytes', async () => {
    assert.deepEqual(await sniff(corpus.svgWithScript), { ok: false, mime: 'image/svg+xml' })
    assert.deepEqual(await sniff(Buffer.from('  <svg width="1"></svg>')), {
      ok: false,
      mime: 'image/svg+xml',
    })
    assert.deepEqual(await sniff(corpus.textFile), { ok: false, mime: 'text/plain' })
    assert.deepEqual(await sniff(Buffer.from([0, 1, 2, 3, 0xfe])), {
      ok: false,
      mime: 'application/octet-stream',
    })
    assert.deepEqual(await sniff(Buffer.from('%PDF-1.7\n')), { ok: false, mime: 'application/pdf' })
  })

  test('trusts bytes, not names: a JPEG+ZIP polyglot is a JPEG', async () => {
    const polyglot = corpus.jpegZipPolyglot(await corpus.plainJpeg())
    assert.deepEqual(await sniff(polyglot), { ok: true, mime: 'image/jpeg', format: 'jpeg' })
  })
})

describe('limits', () => {
  test('defaults: 40 megapixels, 100 frames, 30 s, 50 MB', () => {
    assert.deepEqual(resolveLimits(), {
      maxBytes: 50_000_000,
      maxPixels: 40_000_000,
      maxFrames: 100,
      maxTimeMs: 30_000,
    })
    assert.equal(formatMegapixels(defaultLimits.maxPixels), '40 megapixels')
  })

  test('config overrides what it sets; undefined keeps the default; bad values are all reported', () => {
    assert.equal(resolveLimits({ maxPixels: 75_000_000, maxFrames: undefined }).maxPixels, 75_000_000)
    assert.equal(resolveLimits({ maxFrames: undefined }).maxFrames, 100)
    assert.throws(
      () => resolveLimits({ maxPixels: 0, maxTimeMs: 1.5 }),
      /maxPixels must be an integer in \[1, 268402689\] \(got 0\); maxTimeMs must be an integer/,
    )
  })

  test('error codes are the PHOTOS_ERR_ family', () => {
    for (const code of processingErrorCodes) assert.match(code, /^PHOTOS_ERR_[A-Z_]+$/)
  })
})
