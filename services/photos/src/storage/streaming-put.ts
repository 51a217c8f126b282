/**
 * A stream of unknown length into one S3 object, never holding the file in memory: the bytes
 * pass through a Transform that counts and hashes them on their way to lib-storage's `Upload`,
 * which cuts them into parts and uploads at most `queueSize` parts at a time. Upload reads the
 * next part only when an upload slot is free, so the stream's backpressure holds the producer
 * (the client's socket) back while S3 is slow: in memory at any moment are at most
 * `queueSize` parts in flight plus the one being filled — (2 + 1) × 5 MiB by default, whatever
 * the file's size.
 *
 * A stream shorter than one part becomes a single PutObject; a longer one a multipart upload,
 * completed only after every part is in. Either way the promise resolves after S3 answered the
 * final write (the durable ack pm08 needs). On any failure Upload aborts the multipart upload
 * (when S3 still answers; else the reaper finds it) before the promise rejects.
 */
import { createHash } from 'node:crypto'
import { pipeline, type Readable, Transform } from 'node:stream'
import { Upload } from '@aws-sdk/lib-storage'
import { TooLargeError, UploadInterruptedError } from './errors.ts'
import type { S3Gate } from './s3-gate.ts'

/** S3's minimum part size (every part but the last). */
export const minPartSizeBytes = 5 * 1024 * 1024

export interface PutStreamOptions {
  contentType: string
  /** More bytes than this: the upload is aborted and the call rejects with {@link TooLargeError}. */
  maxBytes: number
  /** @default 5 MiB (S3's minimum) */
  partSizeBytes?: number
  /** Parts uploaded at once; each costs one part of memory. @default 2 */
  queueSize?: number
  /** Called after each part S3 confirmed, with the bytes confirmed so far (tests, progress). */
  onPartStored?: (storedBytes: number) => void
}

export interface PutStreamResult {
  bytes: number
  /** Hex SHA-256 of the bytes as they were streamed. */
  sha256: string
  /** As S3 returned it (quoted; `"…-N"` for a multipart object). */
  etag: string
}

/** Counts and hashes the bytes passing through; errors with TooLargeError past `maxBytes`. */
export class MeteringStream extends Transform {
  bytes = 0
  readonly #hash = createHash('sha256')
  readonly #maxBytes: number

  constructor(maxBytes: number) {
    super()
    this.#maxBytes = maxBytes
  }

  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null, data?: Buffer) => void,
  ) {
    this.bytes += chunk.length
    if (this.bytes > this.#maxBytes) {
      callback(new TooLargeError(this.#maxBytes))
      return
    }
    this.#hash.update(chunk)
    callback(null, chunk)
  }

  sha256(): string {
    return this.#hash.digest('hex')
  }
}

/**
 * Streams `source` to `key`. The call owns `source`: on failure it is destroyed. Rejects with
 * TooLargeError, UploadInterruptedError (the source failed) or, through the gate,
 * StorageUnavailableError.
 */
export async function putStream(
  gate: S3Gate,
  key: string,
  source: Readable,
  options: PutStreamOptions,
): Promise<PutStreamResult> {
  const meter = new MeteringStream(options.maxBytes)
  let sourceError: unknown
  source.once('error', (error) => {
    sourceError = error
  })
  // pipeline forwards the source's error to the meter (Upload then fails with it) and destroys
  // the source when the meter fails (over the limit) or is destroyed (S3 failed).
  pipeline(source, meter, () => {})
  try {
    return await gate.run(async () => {
      const upload = new Upload({
        client: gate.client,
        params: { Bucket: gate.bucket, Key: key, Body: meter, ContentType: options.contentType },
        partSize: Math.max(minPartSizeBytes, options.partSizeBytes ?? minPartSizeBytes),
        queueSize: options.queueSize ?? 2,
        leavePartsOnError: false,
      })
      if (options.onPartStored) {
        const report = options.onPartStored
        upload.on('httpUploadProgress', (progress) => report(progress.loaded ?? 0))
      }
      let output: Awaited<ReturnType<Upload['done']>>
      try {
        output = await upload.done()
      } catch (error) {
        if (error instanceof TooLargeError) throw error
        if (sourceError !== undefined && error === sourceError) throw new UploadInterruptedError(error)
        throw error
      }
      return { bytes: meter.bytes, sha256: meter.sha256(), etag: output.ETag ?? '' }
    })
  } catch (error) {
    meter.destroy()
    source.destroy()
    throw error
  }
}
