/**
 * The type of an upload from its first bytes, never from the client's `Content-Type` or file
 * name: a client can label anything `image/jpeg`, and libvips picks its loader by content anyway,
 * so the label would only decide which of our checks run, not what decodes the bytes.
 */
import { fileTypeFromBuffer } from 'file-type'

/** file-type reads at most this much; most signatures are in the first dozen bytes. */
export const sniffBytes = 4100

/** The formats we decode: mime type (as file-type names it) → the sharp loader that must read it. */
const allowed: Record<string, SharpFormat> = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/avif': 'heif',
  'image/tiff': 'tiff',
  // HEIC: HEVC inside HEIF, every iPhone photo since 2017. libvips reads its header; when this
  // sharp build cannot decode HEVC (the prebuilt binaries leave it out), heic.ts decodes it.
  'image/heic': 'heif',
  'image/heif': 'heif',
}

type SharpFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'heif' | 'tiff'

export type SniffResult =
  | { readonly ok: true; readonly mime: string; readonly format: SharpFormat }
  | { readonly ok: false; readonly mime: string }

/** What the bytes are, and whether we decode it. `mime` names the refused type for the reason. */
export async function sniff(head: Uint8Array): Promise<SniffResult> {
  const sample = head.subarray(0, sniffBytes)
  const detected = await fileTypeFromBuffer(sample)
  // An SVG with an XML prolog is `application/xml` to file-type: look inside it as for plain text.
  const mime =
    detected === undefined || detected.mime === 'application/xml'
      ? textType(sample, detected?.mime)
      : detected.mime
  const format = allowed[mime]
  return format === undefined ? { ok: false, mime } : { ok: true, mime, format }
}

export function allowedTypes(): string[] {
  return Object.keys(allowed)
}

/**
 * file-type recognises binary signatures only; an SVG (which can carry `<script>`) is text and
 * comes back unknown. Naming it gives the user "unsupported type (image/svg+xml)" rather than a
 * shrug. The SVG is refused either way: nothing that is not on the allow-list reaches libvips.
 */
function textType(sample: Uint8Array, detected = 'text/plain'): string {
  if (sample.length === 0 || sample.includes(0)) return 'application/octet-stream'
  let text: string
  try {
    // `stream: true` tolerates a character cut in half at the end of the sample.
    text = new TextDecoder('utf-8', { fatal: true }).decode(sample, { stream: true })
  } catch {
    return 'application/octet-stream'
  }
  return /<svg[\s>]/i.test(text) ? 'image/svg+xml' : detected
}
