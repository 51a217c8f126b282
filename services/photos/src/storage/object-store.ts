/**
 * The server side of the photos bucket: originals streamed in (`putStream`, or `putDeclared`
 * when their length is known ahead), variants written whole (`putBuffer`, content-addressed and
 * immutable), and reads, hashes and deletes. Every
 * call goes through the {@link S3Gate} (breaker + error mapping), so a caller only ever sees
 * this module's errors: TooLargeError, UploadInterruptedError, ObjectNotFoundError,
 * StorageRejectedError, StorageUnavailableError.
 */
import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3'
import { type DeclaredPutOptions, type DeclaredPutResult, putDeclared } from './declared-put.ts'
import { isNotFound } from './errors.ts'
import type { S3Gate } from './s3-gate.ts'
import { type PutStreamOptions, type PutStreamResult, putStream } from './streaming-put.ts'

/** Variants never change under their key (it is their hash): caches may keep them for a year. */
export const immutableCacheControl = 'public, max-age=31536000, immutable'

/** `variants/<sha256 of the bytes>.<ext>`: the same bytes always land at the same key. */
export function variantKey(bytes: Uint8Array, extension: string): string {
  return `variants/${createHash('sha256').update(bytes).digest('hex')}.${extension}`
}

export interface ObjectHead {
  bytes: number
  contentType: string | undefined
  etag: string | undefined
  lastModified: Date | undefined
}

export interface PutBufferOptions {
  contentType: string
  /** @default {@link immutableCacheControl} */
  cacheControl?: string
}

export class ObjectStore {
  readonly #gate: S3Gate

  constructor(gate: S3Gate) {
    this.#gate = gate
  }

  /** See {@link putStream}: resolves once S3 confirmed the whole object. */
  putStream(key: string, source: Readable, options: PutStreamOptions): Promise<PutStreamResult> {
    return putStream(this.#gate, key, source, options)
  }

  /** See {@link putDeclared}: one streamed PutObject of a predicted length, repaired if wrong. */
  putDeclared(key: string, source: Readable, options: DeclaredPutOptions): Promise<DeclaredPutResult> {
    return putDeclared(this.#gate, key, source, options)
  }

  /** One PutObject of bytes already in memory (a variant: tens of KiB). */
  async putBuffer(key: string, bytes: Uint8Array, options: PutBufferOptions): Promise<{ etag: string }> {
    const output = await this.#gate.run(() =>
      this.#gate.client.send(
        new PutObjectCommand({
          Bucket: this.#gate.bucket,
          Key: key,
          Body: bytes,
          ContentType: options.contentType,
          CacheControl: options.cacheControl ?? immutableCacheControl,
        }),
      ),
    )
    return { etag: output.ETag ?? '' }
  }

  /** The object's size and type, or `undefined` when there is none. */
  async head(key: string): Promise<ObjectHead | undefined> {
    const send = () => this.#gate.client.send(new HeadObjectCommand({ Bucket: this.#gate.bucket, Key: key }))
    // A missing object is an answer, not a failure: it must not count against S3 in the breaker.
    const output = await this.#gate.run(() =>
      send().catch((error: unknown) => (isNotFound(error) ? undefined : Promise.reject(error))),
    )
    if (!output) return undefined
    return {
      bytes: output.ContentLength ?? 0,
      contentType: output.ContentType,
      etag: output.ETag,
      lastModified: output.LastModified,
    }
  }

  /**
   * The object's bytes as a stream (optionally a byte range, e.g. the first 4 KiB to sniff the
   * type). Rejects with ObjectNotFoundError when there is none. The caller consumes or destroys it.
   */
  async getStream(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const output = await this.#gate.run(
      () =>
        this.#gate.client.send(
          new GetObjectCommand({
            Bucket: this.#gate.bucket,
            Key: key,
            ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
          }),
        ),
      key,
    )
    return output.Body as Readable
  }

  /**
   * Hex SHA-256 and size of the stored object, streamed from S3 (never the whole object in
   * memory). One gated call: a body that fails half-way counts against S3 like a failed request.
   */
  sha256Of(key: string): Promise<{ sha256: string; bytes: number }> {
    return this.#gate.run(async () => {
      const output = await this.#gate.client.send(
        new GetObjectCommand({ Bucket: this.#gate.bucket, Key: key }),
      )
      const hash = createHash('sha256')
      let bytes = 0
      for await (const chunk of output.Body as Readable) {
        hash.update(chunk as Buffer)
        bytes += (chunk as Buffer).length
      }
      return { sha256: hash.digest('hex'), bytes }
    }, key)
  }

  /** Deletes the object; deleting a missing one succeeds (S3's own semantics). */
  async delete(key: string): Promise<void> {
    await this.#gate.run(() =>
      this.#gate.client.send(new DeleteObjectCommand({ Bucket: this.#gate.bucket, Key: key })),
    )
  }
}
