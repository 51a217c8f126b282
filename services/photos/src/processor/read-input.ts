/**
 * The upload's bytes as one Buffer, refusing past `maxBytes`. Reading a stream whole costs no more
 * memory than handing it to sharp: sharp gathers a piped stream into one buffer before libvips
 * sees a byte (libvips needs the header, then random access for most formats), so the size cap is
 * what bounds the memory, and it is enforced while reading — a 10 GB stream stops at `maxBytes`.
 */
import type { Readable } from 'node:stream'
import { ProcessingError } from './errors.ts'
import { formatMegabytes } from './limits.ts'

export async function readInput(input: Buffer | Readable, maxBytes: number): Promise<Buffer> {
  if (Buffer.isBuffer(input)) {
    if (input.length > maxBytes) throw fileTooLarge(formatMegabytes(input.length), maxBytes)
    return input
  }
  const chunks: Buffer[] = []
  let total = 0
  // A stream error (S3 reset, disk) propagates as it is: it says nothing about the image, and the
  // job should be retried rather than the photo marked failed.
  for await (const chunk of input) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array)
    total += bytes.length
    if (total > maxBytes) {
      input.destroy()
      throw fileTooLarge(`more than ${formatMegabytes(maxBytes)}`, maxBytes)
    }
    chunks.push(bytes)
  }
  return Buffer.concat(chunks, total)
}

function fileTooLarge(size: string, maxBytes: number): ProcessingError {
  return new ProcessingError(
    'PHOTOS_ERR_FILE_TOO_LARGE',
    `file too large: ${size} (limit ${formatMegabytes(maxBytes)})`,
  )
}
