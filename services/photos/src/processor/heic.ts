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
 * ArrayBuffers outside V8's heap, so the pixel limit, checked from the header before this runs,
 * is what bounds them.
 */
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

let decoder: Promise<typeof import('heic-decode').default> | undefined

/**
 * Decodes the first image of a HEIC. Loaded on first use: compiling libheif's WebAssembly takes
 * ≈ 100 ms and a process (or thread) that never meets a HEIC never pays it.
 */
export async function decodeHeic(bytes: Uint8Array): Promise<DecodedHeic> {
  decoder ??= import('heic-decode').then((m) => m.default)
  const decode = await decoder
  const { width, height, data } = await decode({ buffer: bytes })
  return { width, height, pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }
}
