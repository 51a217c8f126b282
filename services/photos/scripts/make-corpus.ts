/**
 * Writes the processor's image corpus (test/corpus/corpus.ts) to a folder, for uploading by hand,
 * the load tests and the hostile-corpus benchmark; with `--measure`, also times the processor on
 * the 12 MP JPEG in-process and in a thread pool (a quick look, not the benchmark: one run, on
 * whatever else the machine is doing).
 *
 *   node services/photos/scripts/make-corpus.ts <folder> [--measure]
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { defaultLimits } from '../src/processor/limits.ts'
import { processImage } from '../src/processor/process-image.ts'
import { SandboxPool } from '../src/processor/sandbox.ts'
import * as corpus from '../test/corpus/corpus.ts'

const [folder, ...flags] = process.argv.slice(2)
if (folder === undefined || folder.startsWith('-')) {
  process.stderr.write('usage: node services/photos/scripts/make-corpus.ts <folder> [--measure]\n')
  process.exit(2)
}

const plain = await corpus.plainJpeg()
const photo = await corpus.jpeg12Megapixels()
const files: Record<string, Buffer> = {
  'ordinary/gps-orientation-6.jpg': await corpus.jpegWithGpsAndOrientation6(),
  'ordinary/alpha.png': await corpus.pngWithAlpha(),
  'ordinary/animated.gif': await corpus.animatedGif(),
  'ordinary/16-bit.png': await corpus.png16Bit(),
  'ordinary/cmyk.jpg': await corpus.cmykJpeg(),
  'ordinary/grey-alpha.png': await corpus.greyAlphaPng(),
  'ordinary/green.avif': await corpus.avif(),
  'ordinary/plain.tiff': await corpus.tiff(),
  'ordinary/800x600.jpg': plain,
  'ordinary/12mp.jpg': photo,
  'ordinary/jpeg-zip-polyglot.jpg': corpus.jpegZipPolyglot(plain),
  'hostile/pixel-flood.png': corpus.pixelFloodPng(),
  'hostile/pixel-flood.jpg': corpus.pixelFloodJpeg(plain),
  'hostile/decompression-bomb.png': corpus.decompressionBombPng(),
  'hostile/10000-frames.gif': corpus.manyFramesGif(10_000),
  'hostile/truncated.jpg': corpus.truncatedJpeg(plain),
  'hostile/noise-with-jpeg-magic.jpg': corpus.noiseWithJpegMagic(),
  'hostile/script.svg': corpus.svgWithScript,
  'hostile/diary.txt': corpus.textFile,
}
for (const [name, bytes] of Object.entries(files)) {
  const path = join(folder, name)
  await mkdir(join(path, '..'), { recursive: true })
  await writeFile(path, bytes)
  process.stdout.write(`${path}\t${bytes.length} bytes\n`)
}

if (flags.includes('--measure')) await measure(photo)

async function measure(jpeg: Buffer): Promise<void> {
  const runs = 8
  await processImage(jpeg, defaultLimits) // warm-up: loads codecs
  let t = performance.now()
  for (let i = 0; i < runs; i++) await processImage(jpeg, defaultLimits)
  report('in-process, one at a time', runs, performance.now() - t)
  const pool = new SandboxPool({ size: availableParallelism() })
  await Promise.all(Array.from({ length: availableParallelism() }, () => pool.run(jpeg, defaultLimits)))
  t = performance.now()
  await Promise.all(Array.from({ length: runs }, () => pool.run(jpeg, defaultLimits)))
  report(`thread pool of ${availableParallelism()}`, runs, performance.now() - t)
  await pool.close()
}

function report(what: string, runs: number, elapsedMs: number): void {
  const perImage = elapsedMs / runs
  process.stdout.write(
    `12 MP JPEG → 4 variants, ${what}: ${perImage.toFixed(0)} ms per image, ${(1000 / perImage).toFixed(1)} images/s\n`,
  )
}
