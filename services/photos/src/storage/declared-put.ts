/**
 * A stream whose length is predicted (uploads/form-length.ts) into ONE PutObject of that length,
 * streamed: the bytes leave for S3 as they arrive, hashed on the way, and nothing but the chunk
 * in hand is held in memory. lib-storage's `Upload` (streaming-put.ts) cannot do this for a
 * stream of unknown length — it gathers each part (5 MiB) before sending it, so receiving and
 * sending take turns, and a 10 MB file becomes a multipart upload (create, two parts, complete).
 *
 * S3 stores a PutObject only once it has received exactly the declared length, so the bytes are
 * fitted to it: cut after the declared length (the few bytes past it kept aside) and padded with
 * zeros if the stream ends short. When the stream's real length differs from the prediction (a
 * form that goes on after the file, an epilogue, no final CRLF), the object at `key` is not the
 * file: it is rewritten at `repairKey` from its own first bytes plus the bytes kept aside (the
 * streamed path, via S3, never through memory), checked against the hash taken on the way in,
 * and the fitted object is deleted. Either way the promise resolves only after S3 confirmed the
 * object that holds exactly the file, at the key returned.
 *
 * A request with a stream body is never retried by the SDK (it cannot be replayed), and it is
 * sent UNSIGNED-PAYLOAD whatever the client's setting (SigV4 cannot hash a stream up front).
 */
import { PassThrough, pipeline, type Readable, Transform } from 'node:stream'
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { TooLargeError, UploadInterruptedError } from './errors.ts'
import type { S3Gate } from './s3-gate.ts'
import { MeteringStream, type PutStreamOptions, type PutStreamResult, putStream } from './streaming-put.ts'

/** More bytes past the prediction than any valid form can hold (at most the 2 of a missing CRLF). */
const maxBytesPastPrediction = 64 * 1024

/** The stream went on far past its prediction: the body is not a form the prediction read. */
class PastPredictionError extends Error {
  constructor() {
    super(`the upload ran more than ${maxBytesPastPrediction} bytes past its predicted length`)
    this.name = 'PastPredictionError'
  }
}

export interface DeclaredPutOptions extends PutStreamOptions {
  /** The predicted length: the PutObject's Content-Length. At most `maxBytes`. */
  declaredBytes: number
  /** Where the object is rewritten when the prediction was wrong. */
  repairKey: string
}

export interface DeclaredPutResult extends PutStreamResult {
  /** The key that holds the file: `key`, or `repairKey` after a wrong prediction. */
  key: string
  /** Whether the prediction was wrong and the object was rewritten. */
  repaired: boolean
}

/**
 * Passes the first `length` bytes but the last, and pads a short stream with zeros. The last
 * byte is held back until the stream has ended whole: S3 stores the object only once it has all
 * `length` bytes, so a stream that fails (too large, the client gone) can never leave one. The
 * bytes past `length` are kept aside (`extra`) for the rewrite.
 */
class FitToLength extends Transform {
  readonly extra: Buffer[] = []
  #passed = 0
  /** The bytes from position `length - 1` on: the held byte, then the extra ones. */
  readonly #overflow: Buffer[] = []
  #overflowBytes = 0
  readonly #length: number

  constructor(length: number) {
    super()
    this.#length = length
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void) {
    const room = Math.max(0, this.#length - 1 - this.#passed)
    if (chunk.length > room) {
      this.#overflowBytes += chunk.length - room
      if (this.#overflowBytes > maxBytesPastPrediction) {
        callback(new PastPredictionError())
        return
      }
      this.#overflow.push(Buffer.from(chunk.subarray(room)))
      chunk = chunk.subarray(0, room)
    }
    this.#passed += chunk.length
    if (chunk.length > 0) this.push(chunk)
    callback()
  }

  override _flush(callback: (error?: Error | null) => void) {
    if (this.#length > 0) {
      const overflow = Buffer.concat(this.#overflow)
      // Short of length - 1: zeros up to it. Then the held byte (a zero if the stream never reached it).
      const zeros = Buffer.alloc(Math.min(64 * 1024, this.#length - 1 - this.#passed))
      while (this.#passed < this.#length - 1) {
        const piece = zeros.subarray(0, Math.min(zeros.length, this.#length - 1 - this.#passed))
        this.#passed += piece.length
        this.push(piece)
      }
      this.push(overflow.length > 0 ? overflow.subarray(0, 1) : Buffer.alloc(1))
      if (overflow.length > 1) this.extra.push(overflow.subarray(1))
    } else if (this.#overflow.length > 0) {
      this.extra.push(...this.#overflow)
    }
    callback()
  }
}

/**
 * Streams `source` to `key` as one PutObject of `declaredBytes` (see the module's comment). The
 * call owns `source`: on failure it is destroyed. Rejects as {@link putStream} does.
 */
export async function putDeclared(
  gate: S3Gate,
  key: string,
  source: Readable,
  options: DeclaredPutOptions,
): Promise<DeclaredPutResult> {
  const { declaredBytes, contentType } = options
  const meter = new MeteringStream(options.maxBytes)
  const fit = new FitToLength(declaredBytes)
  const aborted = new AbortController()
  let sourceError: unknown
  source.once('error', (error) => {
    sourceError = error
  })
  // Settles when the whole source has passed (or failed): the real length is known only then,
  // which may be after S3 has its declared bytes (a stream longer than predicted).
  const drained = new Promise<Error | undefined>((resolve) => {
    pipeline(source, meter, fit, (error) => {
      if (error) aborted.abort(error)
      resolve(error ?? undefined)
    })
  })
  // A failure of the stream is the caller's (too large, the client gone, a body not as
  // predicted), never S3's; anything else (the SDK destroying the body it failed to send) is S3's.
  const streamFailure = (error: unknown): Error | undefined => {
    if (error instanceof TooLargeError) return error
    if (sourceError !== undefined) return new UploadInterruptedError(sourceError)
    if (error instanceof PastPredictionError) return new UploadInterruptedError(error)
    return undefined
  }
  let etag: string
  try {
    etag = await gate.run(async () => {
      try {
        const output = await gate.client.send(
          new PutObjectCommand({
            Bucket: gate.bucket,
            Key: key,
            Body: fit,
            ContentLength: declaredBytes,
            ContentType: contentType,
          }),
          { abortSignal: aborted.signal },
        )
        return output.ETag ?? ''
      } catch (error) {
        const reason = aborted.signal.aborted ? streamFailure(aborted.signal.reason) : undefined
        throw reason ?? error
      }
    })
  } catch (error) {
    source.destroy()
    meter.destroy()
    fit.destroy()
    // The stream failed (too large, the client gone) — possibly after S3 had every declared
    // byte, so it may have stored them: whatever is at `key` is not an upload.
    if (error instanceof TooLargeError || error instanceof UploadInterruptedError) await discard(gate, key)
    throw error
  }
  const failed = await drained
  if (failed) {
    await discard(gate, key)
    throw streamFailure(failed) ?? failed
  }
  const stored = { bytes: meter.bytes, sha256: meter.sha256(), etag }
  if (stored.bytes === declaredBytes) return { ...stored, key, repaired: false }
  return { ...(await rewrite(gate, key, stored, fit.extra, options)), key: options.repairKey, repaired: true }
}

/** Best effort: a failed delete leaves an object no row points to, which the reaper removes. */
async function discard(gate: S3Gate, key: string): Promise<void> {
  await gate
    .run(() => gate.client.send(new DeleteObjectCommand({ Bucket: gate.bucket, Key: key })))
    .catch(() => {})
}

/**
 * The prediction was wrong: the file is the fitted object's first bytes (all of them when the
 * file was longer, with `extra` after them) — streamed from S3 to `repairKey`, checked, and the
 * fitted object deleted.
 */
async function rewrite(
  gate: S3Gate,
  key: string,
  expected: PutStreamResult,
  extra: readonly Buffer[],
  options: DeclaredPutOptions,
): Promise<PutStreamResult> {
  const kept = Math.min(expected.bytes, options.declaredBytes)
  const body = new PassThrough()
  if (kept > 0) {
    const head = await gate.run(
      () =>
        gate.client.send(
          new GetObjectCommand({ Bucket: gate.bucket, Key: key, Range: `bytes=0-${kept - 1}` }),
        ),
      key,
    )
    const stream = head.Body as Readable
    stream.once('error', (error) => body.destroy(error))
    stream.pipe(body, { end: false })
    stream.once('end', () => body.end(Buffer.concat(extra)))
  } else {
    body.end(Buffer.concat(extra))
  }
  const rewritten = await putStream(gate, options.repairKey, body, options)
  if (rewritten.sha256 !== expected.sha256 || rewritten.bytes !== expected.bytes) {
    await gate.run(() =>
      gate.client.send(new DeleteObjectCommand({ Bucket: gate.bucket, Key: options.repairKey })),
    )
    throw new Error(
      `the rewritten upload does not match what was received (${rewritten.bytes} of ${expected.bytes} bytes)`,
    )
  }
  await gate.run(() => gate.client.send(new DeleteObjectCommand({ Bucket: gate.bucket, Key: key })))
  return rewritten
}
