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
 * file: it is rewritten at `repairKey` from its own first bytes plus the bytes kept aside (read
 * back from S3 and written with the multipart path, 5 MiB at a time), checked against the hash
 * taken on the way in, and the fitted object is deleted. Either way the promise resolves only
 * after S3 confirmed the object that holds exactly the file, at the key returned.
 *
 * The PutObject lasts as long as the client takes to send, so the client's pace is bounded here,
 * not by S3's timeouts: a client that sends nothing for `stallMs` while S3 is keeping up fails
 * the upload as interrupted (a 400, never counted against S3; S3_TIMEOUT_MS would otherwise
 * blame S3 for it), and the call's total time is sized for the file at 64 KiB/s. Padding a short
 * file waits until the whole request body has arrived (`bodyComplete`), so what is written never
 * exceeds what the client sent: a form that claims 50 MiB, sends a byte and stops is a stall.
 *
 * A request with a stream body is never retried by the SDK (it cannot be replayed), and it is
 * sent UNSIGNED-PAYLOAD whatever the client's setting (SigV4 cannot hash a stream up front).
 */
import { pipeline, Readable, Transform } from 'node:stream'
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { StorageUnavailableError, TooLargeError, UploadInterruptedError } from './errors.ts'
import type { S3Gate } from './s3-gate.ts'
import { MeteringStream, type PutStreamOptions, type PutStreamResult, putStream } from './streaming-put.ts'

/** More bytes past the prediction than any valid form can hold (at most the 2 of a missing CRLF). */
const maxBytesPastPrediction = 64 * 1024

/** A short file is padded at once when it is this close to the prediction (an epilogue, a small field). */
const padWithoutWaitingBytes = 64 * 1024

/** The slowest client the call's total time allows for: 64 KiB/s (≈ 0.5 Mbit/s). */
const slowestClientBytesPerSecond = 64 * 1024

/** The stream went on far past its prediction: the body is not a form the prediction read. */
class PastPredictionError extends Error {
  constructor() {
    super(`the upload ran more than ${maxBytesPastPrediction} bytes past its predicted length`)
    this.name = 'PastPredictionError'
  }
}

/** The client sent nothing for `stallMs` while S3 was waiting for bytes. */
class ClientStalledError extends Error {
  constructor(stallMs: number, what: string) {
    super(`the client sent nothing for ${stallMs} ms (${what})`)
    this.name = 'ClientStalledError'
  }
}

export interface DeclaredPutOptions extends PutStreamOptions {
  /** The predicted length: the PutObject's Content-Length. At most `maxBytes`. */
  declaredBytes: number
  /** Where the object is rewritten when the prediction was wrong. */
  repairKey: string
  /** Longest pause in the client's bytes (while S3 keeps up) before the upload fails as interrupted. */
  stallMs: number
  /** Resolves once the whole request body has arrived; a short file is padded only after it. */
  bodyComplete?: () => Promise<void>
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
 * `length` bytes, so a stream that fails (too large, the client gone) cannot complete one (a
 * server that keeps truncated bodies is handled by the caller's delete). The
 * bytes past `length` are kept aside (`extra`) for the rewrite.
 */
class FitToLength extends Transform {
  readonly extra: Buffer[] = []
  #passed = 0
  /** The bytes from position `length - 1` on: the held byte, then the extra ones. */
  readonly #overflow: Buffer[] = []
  #overflowBytes = 0
  readonly #length: number
  readonly #beforePadding: () => Promise<void>

  constructor(length: number, beforePadding: () => Promise<void>) {
    super()
    this.#length = length
    this.#beforePadding = beforePadding
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
    // Far short of the prediction: pad only once the rest of the request has arrived, so the
    // zeros never outnumber the bytes the client really sent.
    if (this.#length - this.#passed > padWithoutWaitingBytes) {
      this.#beforePadding().then(
        () => this.#pad(callback),
        // The request ended early or never ended: the client's failure, whatever the error says.
        (error: unknown) =>
          callback(error instanceof ClientStalledError ? error : new UploadInterruptedError(error)),
      )
      return
    }
    this.#pad(callback)
  }

  #pad(callback: (error?: Error | null) => void) {
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
  const { declaredBytes, contentType, stallMs } = options
  const meter = new MeteringStream(options.maxBytes)
  const aborted = new AbortController()
  const watchdog: StallWatchdog = new StallWatchdog(stallMs, () => fit.readableLength === 0, source)
  const fit: FitToLength = new FitToLength(
    declaredBytes,
    (): Promise<void> =>
      watchdog.bound(options.bodyComplete?.() ?? Promise.resolve(), 'the rest of the form'),
  )
  let sourceError: unknown
  source.once('error', (error) => {
    sourceError = error
  })
  // Settles when the whole source has passed (or failed): the real length is known only then,
  // which may be after S3 has its declared bytes (a stream longer than predicted).
  const drained = new Promise<Error | undefined>((resolve) => {
    pipeline(source, meter, fit, (error) => {
      watchdog.stop()
      if (error) aborted.abort(error)
      resolve(error ?? undefined)
    })
  })
  // After the pipeline (a 'data' listener before it would start the flow with no one to take it).
  meter.on('data', () => watchdog.progress())
  // A failure of the stream is the caller's (too large, the client gone or stalled, a body not
  // as predicted), never S3's; anything else failed on S3's side of the call.
  const streamFailure = (error: unknown): Error | undefined => {
    if (error instanceof TooLargeError || error instanceof UploadInterruptedError) return error
    if (sourceError !== undefined) return new UploadInterruptedError(sourceError)
    if (error instanceof PastPredictionError || error instanceof ClientStalledError)
      return new UploadInterruptedError(error)
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
          {
            abortSignal: aborted.signal,
            requestTimeout: Math.max(30_000, Math.ceil(declaredBytes / slowestClientBytesPerSecond) * 1000),
          },
        )
        return output.ETag ?? ''
      } catch (error) {
        const reason = aborted.signal.aborted ? streamFailure(aborted.signal.reason) : undefined
        throw reason ?? error
      }
    })
  } catch (error) {
    watchdog.stop()
    source.destroy()
    meter.destroy()
    fit.destroy()
    // S3 refuses a PutObject whose body ends short (IncompleteBody), and the held-back byte keeps
    // it short — but versitygw 1.8 stores what it received when the connection breaks (measured:
    // 2 MiB of a declared 8 MiB), and an empty prediction completes before the stream says
    // anything. Whatever is at `key` after a failed stream is not an upload.
    if (error instanceof TooLargeError || error instanceof UploadInterruptedError || declaredBytes === 0)
      await discardAfterBreak(gate, key)
    throw error
  }
  const failed = await drained
  if (failed) {
    // S3 has the declared bytes, but the stream failed after them: the object is not an upload.
    await discardAfterBreak(gate, key)
    throw streamFailure(failed) ?? new UploadInterruptedError(failed)
  }
  const stored = { bytes: meter.bytes, sha256: meter.sha256(), etag }
  if (stored.bytes === declaredBytes) return { ...stored, key, repaired: false }
  return { ...(await rewrite(gate, key, stored, fit.extra, options)), key: options.repairKey, repaired: true }
}

/**
 * Deletes what a broken PutObject may have left: now, and once more a moment later, for a server
 * that writes the truncated body only as it notices the broken connection (after our delete,
 * on a loaded machine). The second delete is awaited: the caller's 4xx goes out with `key` gone.
 */
async function discardAfterBreak(gate: S3Gate, key: string): Promise<void> {
  await discard(gate, key)
  await new Promise((resolve) => setTimeout(resolve, 250))
  await discard(gate, key)
}

/** Best effort: a failed delete leaves an object no row points to, which the reaper removes. */
async function discard(gate: S3Gate, key: string): Promise<void> {
  await gate
    .run(() => gate.client.send(new DeleteObjectCommand({ Bucket: gate.bucket, Key: key })))
    .catch(() => {})
}

/**
 * The prediction was wrong: the file is the fitted object's first bytes (all of them when the
 * file was longer, with `extra` after them) — read back from S3 into `repairKey`, checked against
 * the hash taken on the way in, and the fitted object deleted. Whatever fails here is S3's
 * (503): the client sent a whole, valid form.
 */
async function rewrite(
  gate: S3Gate,
  key: string,
  expected: PutStreamResult,
  extra: readonly Buffer[],
  options: DeclaredPutOptions,
): Promise<PutStreamResult> {
  const kept = Math.min(expected.bytes, options.declaredBytes)
  const head =
    kept > 0
      ? ((
          await gate.run(
            () =>
              gate.client.send(
                new GetObjectCommand({ Bucket: gate.bucket, Key: key, Range: `bytes=0-${kept - 1}` }),
              ),
            key,
          )
        ).Body as Readable)
      : undefined
  let readFailure: unknown
  async function* fileBytes() {
    try {
      if (head) yield* head
    } catch (error) {
      readFailure = error
      throw error
    }
    yield Buffer.concat(extra)
  }
  let rewritten: PutStreamResult
  try {
    rewritten = await putStream(gate, options.repairKey, Readable.from(fileBytes()), options)
  } catch (error) {
    throw readFailure !== undefined || error instanceof UploadInterruptedError
      ? new StorageUnavailableError({ cause: readFailure ?? error })
      : error
  } finally {
    head?.destroy()
  }
  if (rewritten.sha256 !== expected.sha256 || rewritten.bytes !== expected.bytes) {
    await discard(gate, options.repairKey)
    await discard(gate, key)
    throw new StorageUnavailableError({
      cause: new Error(
        `the upload read back from S3 is not what was received (${rewritten.bytes} of ${expected.bytes} bytes)`,
      ),
    })
  }
  await discard(gate, key)
  return rewritten
}

/**
 * Fails the upload when the client pauses: no byte for `stallMs` while the stream is waiting on
 * the client (`waitingOnClient`: nothing buffered towards S3 — when S3 is the slow side, its own
 * timeouts judge it). `bound` puts the same limit on waiting for the rest of the form.
 */
class StallWatchdog {
  #timer: NodeJS.Timeout | undefined
  readonly #stallMs: number
  readonly #waitingOnClient: () => boolean
  readonly #source: Readable

  constructor(stallMs: number, waitingOnClient: () => boolean, source: Readable) {
    this.#stallMs = stallMs
    this.#waitingOnClient = waitingOnClient
    this.#source = source
    this.progress()
  }

  progress(): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => this.#check(), this.#stallMs)
  }

  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  async bound(wait: Promise<void>, what: string): Promise<void> {
    this.stop()
    let timer: NodeJS.Timeout | undefined
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ClientStalledError(this.#stallMs, what)), this.#stallMs)
    })
    try {
      await Promise.race([wait, stalled])
    } finally {
      clearTimeout(timer)
    }
  }

  #check(): void {
    if (this.#waitingOnClient()) this.#source.destroy(new ClientStalledError(this.#stallMs, 'mid-file'))
    else this.progress()
  }
}
