/**
 * The derivatives of every photo, in one table: two sizes, each in WebP (≈ 30 % smaller at the
 * same quality, every current browser) and JPEG (everything else: mail clients, old Android
 * WebViews). Sizes are the longest side, fit inside and never enlarged: a 200-px original gets a
 * 200-px "preview", not a blurry 1 280-px one. q80 is sharp's benchmark setting and the usual
 * point past which files grow faster than anyone can see a difference.
 */
export type VariantName = 'thumb' | 'preview'
export type VariantFormat = 'webp' | 'jpeg'

export interface VariantSpec {
  readonly name: VariantName
  readonly format: VariantFormat
  readonly maxSidePx: number
  readonly quality: number
}

export const variantTable: readonly VariantSpec[] = [
  { name: 'thumb', format: 'webp', maxSidePx: 256, quality: 80 },
  { name: 'thumb', format: 'jpeg', maxSidePx: 256, quality: 80 },
  { name: 'preview', format: 'webp', maxSidePx: 1280, quality: 80 },
  { name: 'preview', format: 'jpeg', maxSidePx: 1280, quality: 80 },
]

/** The sizes, largest first: each is resized from the one before it (see process-image.ts). */
export function variantSizes(): { name: VariantName; maxSidePx: number }[] {
  const sizes = new Map<VariantName, number>()
  for (const spec of variantTable) sizes.set(spec.name, spec.maxSidePx)
  return [...sizes]
    .map(([name, maxSidePx]) => ({ name, maxSidePx }))
    .sort((a, b) => b.maxSidePx - a.maxSidePx)
}

/** The placeholder's source is at most this big: thumbhash's own limit is 100 × 100. */
export const placeholderMaxSidePx = 100

/** JPEG has no alpha: transparent areas become white, as a browser shows them on a page. */
export const jpegBackground = '#ffffff'
