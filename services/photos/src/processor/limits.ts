/**
 * The limits one image is processed under, as one object so the API (bytes), the worker (time)
 * and the processor (pixels, frames) read the same numbers. Defaults are chosen for phone photos:
 * a 48 MP phone sensor bins to 12 MP by default, and 40 MP still admits a full-resolution 36 MP
 * DSLR frame while staying under thumbor's 75 MP; a decoded 40 MP RGBA image is 160 MB, which is
 * the memory a worker slot has to be sized for (sequential read keeps most formats far below it).
 */
export interface ProcessingLimits {
  /** Larger files are refused before any decoding (`MAX_UPLOAD_BYTES`). */
  readonly maxBytes: number
  /** width × height of the image (one frame) as its header declares it (`MAX_PIXELS`). */
  readonly maxPixels: number
  /** Frames of an animated GIF/WebP or pages of a TIFF/HEIF (`MAX_FRAMES`). */
  readonly maxFrames: number
  /** Wall time of one job, counted from its start (`JOB_TIMEOUT_MS`). */
  readonly maxTimeMs: number
}

export const defaultLimits: ProcessingLimits = Object.freeze({
  maxBytes: 50_000_000,
  maxPixels: 40_000_000,
  maxFrames: 100,
  maxTimeMs: 30_000,
})

/** Bounds a deployment may set, so a typo (`MAX_PIXELS=4e10`) fails at boot instead of at 3 a.m. */
const bounds: Record<keyof ProcessingLimits, readonly [number, number]> = {
  maxBytes: [1, 2 * 1024 * 1024 * 1024],
  maxPixels: [1, 268_402_689], // libvips' own ceiling (0x3FFF × 0x3FFF), sharp's default limit
  maxFrames: [1, 10_000],
  maxTimeMs: [1, 15 * 60_000],
}

/**
 * The defaults with the given overrides (from config), validated. Every bad value is reported in
 * one error, like the kit's config loader, so a deployment is fixed in one pass.
 */
export function resolveLimits(overrides: Partial<ProcessingLimits> = {}): ProcessingLimits {
  const limits = { ...defaultLimits, ...definedOnly(overrides) }
  const problems: string[] = []
  for (const [name, [min, max]] of Object.entries(bounds) as [keyof ProcessingLimits, [number, number]][]) {
    const value = limits[name]
    if (!Number.isInteger(value) || value < min || value > max)
      problems.push(`${name} must be an integer in [${min}, ${max}] (got ${value})`)
  }
  if (problems.length > 0) throw new RangeError(`invalid processing limits: ${problems.join('; ')}`)
  return Object.freeze(limits)
}

function definedOnly(overrides: Partial<ProcessingLimits>): Partial<ProcessingLimits> {
  return Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined))
}

/** "40 megapixels", "12.5 megapixels": the unit a user knows from a camera's box. */
export function formatMegapixels(pixels: number): string {
  const mp = pixels / 1_000_000
  return `${Number.isInteger(mp) ? mp : mp.toFixed(1)} megapixels`
}

/** "50 MB", "1.5 MB": decimal megabytes, the unit a phone shows next to a photo. */
export function formatMegabytes(bytes: number): string {
  const mb = bytes / 1_000_000
  return `${mb >= 10 || Number.isInteger(mb) ? Math.round(mb) : mb.toFixed(1)} MB`
}
