/**
 * HEIC — HEVC-coded images in a HEIF container, what every iPhone has saved since iOS 11 — decoded
 * without sharp. sharp's prebuilt binaries leave the HEVC decoder out (patents): libvips reads a
 * HEIC's header (size, frames) but not its pixels. The library made for the job in Node is
 * `heic-decode`, libheif and libde265 compiled to WebAssembly (`libheif-js`): no native build, the
 * same bytes on every machine. We decode the first image to RGBA and hand sharp the pixels.
 *
 * What that costs, and why it matters where it runs: WebAssembly runs on the calling thread,
 * synchronously — ≈ 0.6 s for a 12-megapixel photo on this machine, during which that thread's
 * event loop runs nothing else. In a processor thread (sandboxedProcessing) that is what the
 * thread is for; on the worker's own loop it is immich PR #27742's failure — BullMQ cannot renew
 * the job locks of the other images in flight, they expire, and those jobs run twice (pm21).
 *
 * Memory: the RGBA pixels (4 bytes a pixel, 48 MB at 12 MP) and libheif's working memory live in
 * ArrayBuffers outside V8's heap. The pixel limit, checked from the header before this runs,
 * bounds one decode; but WebAssembly memory never shrinks, so a thread keeps its high-water mark
 * (≈ 150–200 MB after 12 MP decodes) until it is retired (docs/photos.md, known gaps).
 */
import { createRequire } from 'node:module'
import type { Metadata } from 'sharp'
import sharp from 'sharp'

/** Whether sharp needs help with this image: HEVC inside HEIF, on a sharp build without HEVC. */
export function needsHeicDecoder(metadata: Pick<Metadata, 'format' | 'compression'>): boolean {
  return metadata.format === 'heif' && metadata.compression === 'hevc' && !sharpDecodesHevc
}

/** Builds that do decode HEVC (libvips with a system libheif + libde265) name `.heic` as an input suffix. */
const sharpDecodesHevc = sharp.format.heif.input.fileSuffix?.includes('.heic') === true

export interface DecodedHeic {
  readonly width: number
  readonly height: number
  /** RGBA, 8 bits a channel, rows top to bottom, with the container's rotation and mirroring applied. */
  readonly pixels: Uint8Array
}

/**
 * The file itself is the problem (not a HEIC after all, no image libheif can decode, or no image
 * of the size its header gave): the photo fails as corrupt. Anything else — the decoder failing to
 * load, memory — is thrown as it is, and the job is retried.
 */
export class HeicFileError extends Error {
  override readonly name = 'HeicFileError'
}

/** What heic-decode and libheif-js throw for a file they cannot read. */
const fileErrors = /not a HEIC image|HEIF image not found|HEIF processing error/

let decoder: Promise<typeof import('heic-decode').default> | undefined
let decoderLoaded = false

/**
 * The decoder's WebAssembly memory in bytes, 0 before its first use. Emscripten grows it to fit the
 * largest image decoded and never gives it back (≈ 100 MB after a 12 MP photo, ≈ 16 MB at load):
 * the sandbox retires a thread whose memory passed its cap, the one way to return it.
 */
export function heicDecoderMemoryBytes(): number {
  if (!decoderLoaded) return 0
  // heic-decode's own instance of libheif-js (the same module, from require's cache), looked up
  // once; its HEAPU8 is replaced each time the memory grows, so it is read on every call.
  libheif ??= createRequire(createRequire(import.meta.url).resolve('heic-decode'))(
    'libheif-js/wasm-bundle',
  ) as { HEAPU8?: Uint8Array }
  return libheif.HEAPU8?.length ?? 0
}
let libheif: { HEAPU8?: Uint8Array } | undefined

/**
 * Decodes the image of a HEIC whose size libvips read from its header (the primary image): that
 * size is what the pixel limit was checked against, so a file whose first image is another, larger
 * one is refused rather than decoded. The decoder loads on first use (compiling libheif's
 * WebAssembly takes ≈ 100 ms; a process that never meets a HEIC never pays it), and a failed load
 * is tried again by the next job rather than remembered.
 */
export async function decodeHeic(bytes: Uint8Array, header: Size): Promise<DecodedHeic> {
  decoder ??= import('heic-decode').then(
    (m) => {
      decoderLoaded = true
      return m.default
    },
    (err: unknown) => {
      decoder = undefined
      throw err
    },
  )
  const decode = await decoder
  const images = await decode.all({ buffer: bytes }).catch((err: unknown) => {
    throw asFileError(err)
  })
  try {
    // Either way round: a rotation (irot) may be applied by one reader and not the other, and it
    // does not change the pixel count the limit was checked on.
    const image = images.find(
      (i) => sameSize(i, header) || sameSize(i, { width: header.height, height: header.width }),
    )
    if (image === undefined)
      throw new HeicFileError(`no image of the header's ${header.width}×${header.height} in the file`)
    const { width, height, data } = await image.decode().catch((err: unknown) => {
      throw asFileError(err)
    })
    if (!sameSize({ width, height }, image))
      throw new HeicFileError(`decoded ${width}×${height}, the file said ${image.width}×${image.height}`)
    return { width, height, pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }
  } finally {
    images.dispose()
  }
}

interface Size {
  readonly width: number
  readonly height: number
}

function sameSize(a: Size, b: Size): boolean {
  return a.width === b.width && a.height === b.height
}

function asFileError(err: unknown): unknown {
  return err instanceof Error && fileErrors.test(err.message)
    ? new HeicFileError(err.message, { cause: err })
    : err
}
