/**
 * The hostile corpus with the refusal each file must get: one table for the in-process tests
 * (processor-hostile.test.ts) and the sandboxed ones (processor-sandbox.test.ts).
 */
import type { ProcessingErrorCode } from '../../src/processor/errors.ts'
import * as corpus from './corpus.ts'

export interface HostileCase {
  readonly name: string
  readonly bytes: () => Buffer
  readonly code: ProcessingErrorCode
  readonly reason: string
}

/**
 * The hostile files and how each must be refused. Some are built from a real JPEG (`plainJpeg()`),
 * which the caller makes once in its `before` hook; `bytes` runs inside the test.
 */
export function hostileCases(jpeg: () => Buffer): readonly HostileCase[] {
  return [
    {
      name: 'pixel flood: a PNG header claiming 100 000 × 100 000',
      bytes: corpus.pixelFloodPng,
      code: 'PHOTOS_ERR_TOO_MANY_PIXELS',
      reason: 'image too large: 100000×100000 pixels (limit 40 megapixels)',
    },
    {
      name: 'pixel flood: a JPEG frame header rewritten to 65 500 × 65 500',
      bytes: () => corpus.pixelFloodJpeg(jpeg()),
      code: 'PHOTOS_ERR_TOO_MANY_PIXELS',
      reason: 'image too large: 65500×65500 pixels (limit 40 megapixels)',
    },
    {
      name: 'decompression bomb: a real 20 000 × 20 000 PNG of zeros in ≈ 50 KB',
      bytes: corpus.decompressionBombPng,
      code: 'PHOTOS_ERR_TOO_MANY_PIXELS',
      reason: 'image too large: 20000×20000 pixels (limit 40 megapixels)',
    },
    {
      name: 'frame bomb: a GIF of 10 000 frames',
      bytes: () => corpus.manyFramesGif(10_000),
      code: 'PHOTOS_ERR_TOO_MANY_FRAMES',
      reason: 'too many frames: 10000 (limit 100)',
    },
    {
      name: 'truncated JPEG (60 % of the file)',
      bytes: () => corpus.truncatedJpeg(jpeg()),
      code: 'PHOTOS_ERR_CORRUPT',
      reason: 'corrupt or truncated image',
    },
    {
      name: 'random bytes behind a JPEG signature',
      bytes: corpus.noiseWithJpegMagic,
      code: 'PHOTOS_ERR_CORRUPT',
      reason: 'corrupt or truncated image',
    },
    {
      name: 'SVG with a <script>',
      bytes: () => corpus.svgWithScript,
      code: 'PHOTOS_ERR_UNSUPPORTED_TYPE',
      reason: 'unsupported type (image/svg+xml)',
    },
    {
      name: 'a text file',
      bytes: () => corpus.textFile,
      code: 'PHOTOS_ERR_UNSUPPORTED_TYPE',
      reason: 'unsupported type (text/plain)',
    },
    {
      name: 'an empty file',
      bytes: () => Buffer.alloc(0),
      code: 'PHOTOS_ERR_CORRUPT',
      reason: 'empty file',
    },
  ]
}
