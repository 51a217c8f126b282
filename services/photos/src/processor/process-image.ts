/**
 * One image in, its derivatives out — pure: no queue, no S3, no database (the worker job calls it
 * with the original's bytes and stores what it returns). Every way an image can be refused ends
 * as a `ProcessingError` with a reason a user can read; anything else that escapes is a bug or an
 * I/O failure of the input stream, and the caller should retry it.
 *
 * The checks run cheapest first, so hostile files cost almost nothing: the size while reading,
 * the type from 4 KB of magic bytes, then width, height and frames from the header alone, and
 * only then does libvips decode a pixel. A 10-gigapixel PNG header or a 10 000-frame GIF is
 * refused before any memory is allocated for its pixels.
 */
import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import sharp, { type Metadata, type Sharp } from 'sharp'
import { rgbaToThumbHash } from 'thumbhash'
import { ProcessingError } from './errors.ts'
import { decodeHeic, HeicFileError, needsHeicDecoder } from './heic.ts'
import { formatMegapixels, type ProcessingLimits } from './limits.ts'
import { readInput } from './read-input.ts'
import { sniff } from './sniff.ts'
import {
  jpegBackground,
  placeholderMaxSidePx,
  type VariantFormat,
  type VariantName,
  variantSizes,
  variantTable,
} from './variants.ts'

export interface Variant {
  readonly name: VariantName
  readonly format: VariantFormat
  readonly width: number
  readonly height: number
  readonly bytes: Buffer
  /** Hex SHA-256 of `bytes`: the variant's content address (`variants/<sha256>.<ext>`). */
  readonly sha256: string
}

export interface ProcessedImage {
  /** Displayed size, after auto-orientation (a portrait photo stored sideways is portrait here). */
  readonly width: number
  readonly height: number
  /** The sniffed type of the original (`image/jpeg`), what the photo row records. */
  readonly mime: string
  /** The libvips loader that read it (`jpeg`, `png`, `webp`, `gif`, `heif`, `tiff`). */
  readonly format: string
  /** A thumbhash, base64: ≈ 25 bytes a client turns into a blurred preview while the thumb loads. */
  readonly placeholder: string
  readonly variants: readonly Variant[]
}

interface Options {
  /** When the job started (ms since the epoch): the time limit counts from here, not from now. */
  readonly startedAtMs?: number
}

export async function processImage(
  input: Buffer | Readable,
  limits: ProcessingLimits,
  options: Options = {},
): Promise<ProcessedImage> {
  const deadline = new Deadline(options.startedAtMs ?? Date.now(), limits.maxTimeMs)
  const bytes = await readInput(input, limits.maxBytes)
  if (bytes.length === 0) throw new ProcessingError('PHOTOS_ERR_CORRUPT', 'empty file')
  const type = await sniff(bytes)
  if (!type.ok) throw new ProcessingError('PHOTOS_ERR_UNSUPPORTED_TYPE', `unsupported type (${type.mime})`)
  const metadata = await readHeader(bytes, type.format)
  checkDimensions(metadata, limits)
  deadline.check()
  const source = await openSource(bytes, metadata, limits, deadline)
  const rendered = await renderVariants(source.image, deadline)
  const { width, height } = source
  return { width, height, mime: type.mime, format: metadata.format, ...rendered }
}

interface Source {
  readonly image: Sharp
  /** The original's size as displayed (auto-oriented). */
  readonly width: number
  readonly height: number
}

/**
 * The original, ready for libvips to decode — or, for a HEIC this sharp cannot decode, decoded
 * here first (heic.ts: WebAssembly, synchronous, on this thread) and handed over as pixels.
 */
async function openSource(
  bytes: Buffer,
  metadata: Metadata,
  limits: ProcessingLimits,
  deadline: Deadline,
): Promise<Source> {
  if (needsHeicDecoder(metadata)) {
    const heic = await decoding(() => decodeHeic(bytes, metadata), deadline, 'heic')
    deadline.check() // a decode cannot be interrupted; a job past its limit stops here
    const { width, height } = heic
    return { image: sharp(heic.pixels, { raw: { width, height, channels: 4 } }), width, height }
  }
  const image = sharp(bytes, {
    limitInputPixels: limits.maxPixels, // the header was checked; this guards what libvips decodes
    failOn: 'error',
    sequentialRead: true,
    autoOrient: true,
    pages: 1,
  })
  return { image, ...metadata.autoOrient }
}

/** Header only: libvips reads the dimensions and frame count without decoding pixels. */
async function readHeader(bytes: Buffer, expectedFormat: string): Promise<Metadata> {
  // No pixel limit here, so an oversized image is refused below with its real dimensions.
  const metadata = await decoding(() => sharp(bytes, { limitInputPixels: false, failOn: 'error' }).metadata())
  // The allow-list names the loader as well as the type: a file that sniffs as JPEG but that
  // libvips would open with another loader (SVG, say) never reaches that loader.
  if (metadata.format !== expectedFormat) throw corrupt()
  return metadata
}

function checkDimensions(metadata: Metadata, limits: ProcessingLimits): void {
  const { width, height } = metadata // one frame's size: `pages` is not set when reading metadata
  if (!(width > 0 && height > 0)) throw corrupt()
  if (width * height > limits.maxPixels)
    throw new ProcessingError(
      'PHOTOS_ERR_TOO_MANY_PIXELS',
      `image too large: ${width}×${height} pixels (limit ${formatMegapixels(limits.maxPixels)})`,
    )
  const frames = metadata.pages ?? 1
  if (frames > limits.maxFrames)
    throw new ProcessingError(
      'PHOTOS_ERR_TOO_MANY_FRAMES',
      `too many frames: ${frames} (limit ${limits.maxFrames})`,
    )
}

interface RawImage {
  readonly pixels: Buffer
  readonly width: number
  readonly height: number
  readonly channels: 1 | 2 | 3 | 4
}

/**
 * Decodes once, to the largest size, and makes each smaller size from the one before it: the
 * original (12 MP of JPEG, or a PNG without shrink-on-load) is decoded one time, not once per
 * variant and format. Animated images give their first frame: a thumbnail does not move.
 */
async function renderVariants(original: Sharp, deadline: Deadline) {
  const variants: Variant[] = []
  let source = original
  let smallest: RawImage | undefined
  for (const size of variantSizes()) {
    const raw = await toRaw(source, size.maxSidePx, deadline)
    smallest = raw
    for (const spec of variantTable.filter((v) => v.name === size.name))
      variants.push(await encode(raw, spec.name, spec.format, spec.quality, deadline))
    source = fromRaw(raw)
  }
  if (smallest === undefined) throw new Error('variantTable is empty')
  const placeholder = await thumbhash(smallest, deadline)
  variants.sort((a, b) => tableIndex(a) - tableIndex(b))
  return { placeholder, variants }
}

function tableIndex(variant: Variant): number {
  return variantTable.findIndex((spec) => spec.name === variant.name && spec.format === variant.format)
}

async function toRaw(image: Sharp, maxSidePx: number, deadline: Deadline): Promise<RawImage> {
  const { data, info } = await decoding(
    () =>
      image
        .resize(maxSidePx, maxSidePx, { fit: 'inside', withoutEnlargement: true })
        // 8-bit sRGB whatever came in (16-bit PNG, CMYK JPEG, greyscale, an embedded ICC profile).
        .toColourspace('srgb')
        .raw()
        .timeout({ seconds: deadline.remainingSeconds() })
        .toBuffer({ resolveWithObject: true }),
    deadline,
  )
  return { pixels: data, width: info.width, height: info.height, channels: info.channels }
}

function fromRaw(raw: RawImage): Sharp {
  return sharp(raw.pixels, { raw: { width: raw.width, height: raw.height, channels: raw.channels } })
}

/**
 * No `withMetadata`/`keepExif`/`keepMetadata`: sharp writes none of the input's EXIF, GPS, XMP,
 * IPTC or ICC unless asked (and raw pixels carry none anyway), so no served variant can leak
 * where a photo was taken. The processor tests check every variant of a GPS-tagged JPEG.
 */
async function encode(
  raw: RawImage,
  name: VariantName,
  format: VariantFormat,
  quality: number,
  deadline: Deadline,
): Promise<Variant> {
  const image = fromRaw(raw).timeout({ seconds: deadline.remainingSeconds() })
  const encoder =
    format === 'webp'
      ? image.webp({ quality })
      : image.flatten({ background: jpegBackground }).jpeg({ quality })
  const bytes = await decoding(() => encoder.toBuffer(), deadline)
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  return { name, format, width: raw.width, height: raw.height, bytes, sha256 }
}

async function thumbhash(raw: RawImage, deadline: Deadline): Promise<string> {
  const { data, info } = await decoding(
    () =>
      fromRaw(raw)
        .resize(placeholderMaxSidePx, placeholderMaxSidePx, { fit: 'inside', withoutEnlargement: true })
        .ensureAlpha()
        .raw()
        .timeout({ seconds: deadline.remainingSeconds() })
        .toBuffer({ resolveWithObject: true }),
    deadline,
  )
  return Buffer.from(rgbaToThumbHash(info.width, info.height, data)).toString('base64')
}

/**
 * Runs a decoding step, turning its failures into the reasons a user reads. Every libvips error
 * is about the file; heic-decode's are only when it says so (HeicFileError) — any other (its
 * WebAssembly failed to load, say) is the machine's, and is thrown as it is: the job is retried.
 */
async function decoding<T>(
  step: () => Promise<T>,
  deadline?: Deadline,
  decoder: 'libvips' | 'heic' = 'libvips',
): Promise<T> {
  try {
    return await step()
  } catch (err) {
    if (err instanceof ProcessingError) throw err // the deadline, checked before libvips started
    if (decoder === 'heic') throw err instanceof HeicFileError ? corrupt(err) : err
    const message = err instanceof Error ? err.message : String(err)
    if (message.includes('exceeds pixel limit'))
      throw new ProcessingError('PHOTOS_ERR_TOO_MANY_PIXELS', 'image too large', { cause: err })
    if (deadline !== undefined && /^timeout: /.test(message)) throw deadline.exceeded(err)
    throw corrupt(err)
  }
}

function corrupt(cause?: unknown): ProcessingError {
  return new ProcessingError('PHOTOS_ERR_CORRUPT', 'corrupt or truncated image', { cause })
}

/** The job's time limit as seen from inside: libvips stops a pipeline that runs past it. */
class Deadline {
  readonly #endMs: number
  readonly #limitMs: number

  constructor(startedAtMs: number, limitMs: number) {
    this.#endMs = startedAtMs + limitMs
    this.#limitMs = limitMs
  }

  check(): void {
    if (Date.now() >= this.#endMs) throw this.exceeded()
  }

  /** Whole seconds, at least 1: sharp's timeout has a one-second resolution and 0 means "none". */
  remainingSeconds(): number {
    this.check()
    return Math.max(1, Math.ceil((this.#endMs - Date.now()) / 1000))
  }

  exceeded(cause?: unknown): ProcessingError {
    return new ProcessingError('PHOTOS_ERR_TIMEOUT', timeoutReason(this.#limitMs), { cause })
  }
}

/** "processing took longer than 30 s": the sandbox says the same when it terminates a thread. */
export function timeoutReason(limitMs: number): string {
  if (limitMs < 1000) return `processing took longer than ${limitMs} ms`
  const seconds = limitMs / 1000
  return `processing took longer than ${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`
}
