/**
 * Uploads that go from the client straight to S3: presigned PUTs, presigned multipart parts, and
 * presigned GETs for variants. The API never sees these bytes, so what it signs is what it can
 * enforce: a PUT's URL signs `content-length` and `content-type`, so S3 refuses any other size
 * or type (403 SignatureDoesNotMatch); the checksum is verified after the fact by
 * `ObjectStore.sha256Of` when the client completes the upload. Multipart uploads a client
 * started and never completed hold bytes nobody pays attention to (owncloud/ocis#4968): the
 * reaper finds them with {@link PresignedUploads.listIncompleteMultipart} and aborts them.
 *
 * Signing is local (no S3 call, never gated); the multipart lifecycle calls go through the gate.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import type { S3Gate } from './s3-gate.ts'

/** @default 15 minutes: long enough for a slow phone on a large file, short enough to leak little. */
export const defaultPresignExpiresS = 15 * 60

export interface PresignedPut {
  method: 'PUT'
  url: string
  /** Headers the client must send as they are: they are part of the signature. */
  headers: Record<string, string>
  expiresAt: Date
}

export interface CompletedPart {
  partNumber: number
  etag: string
}

export interface IncompleteMultipart {
  key: string
  uploadId: string
  initiatedAt: Date
}

export class PresignedUploads {
  readonly #gate: S3Gate
  readonly #signer: S3Client

  /**
   * `signer` signs the URLs clients use: a client of the same bucket whose endpoint the clients
   * can reach (inside compose the service's endpoint `http://s3:7070` is not). Default: the gate's.
   */
  constructor(gate: S3Gate, signer: S3Client = gate.client) {
    this.#gate = gate
    this.#signer = signer
  }

  /** A URL for one PUT of exactly `size` bytes of `contentType` to `key`. */
  async presignPut(
    key: string,
    options: { contentType: string; size: number; expiresS?: number },
  ): Promise<PresignedPut> {
    const expiresS = options.expiresS ?? defaultPresignExpiresS
    const command = new PutObjectCommand({
      Bucket: this.#gate.bucket,
      Key: key,
      ContentType: options.contentType,
      ContentLength: options.size,
    })
    const url = await getSignedUrl(this.#signer, command, {
      expiresIn: expiresS,
      signableHeaders: new Set(['content-type', 'content-length']),
    })
    return {
      method: 'PUT',
      url,
      headers: { 'content-type': options.contentType, 'content-length': String(options.size) },
      expiresAt: new Date(Date.now() + expiresS * 1000),
    }
  }

  /** Starts a multipart upload the client fills with presigned parts; returns its upload id. */
  async createMultipart(key: string, options: { contentType: string }): Promise<string> {
    const output = await this.#gate.run(() =>
      this.#gate.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.#gate.bucket,
          Key: key,
          ContentType: options.contentType,
        }),
      ),
    )
    if (!output.UploadId) throw new Error(`S3 created a multipart upload for ${key} without an UploadId`)
    return output.UploadId
  }

  /** A URL for one part (1…10 000). The part's ETag comes back in the PUT's `ETag` header. */
  presignPart(
    key: string,
    uploadId: string,
    partNumber: number,
    expiresS = defaultPresignExpiresS,
  ): Promise<string> {
    const command = new UploadPartCommand({
      Bucket: this.#gate.bucket,
      Key: key,
      UploadId: uploadId,
      PartNumber: partNumber,
    })
    return getSignedUrl(this.#signer, command, { expiresIn: expiresS })
  }

  /**
   * Joins the parts into the object. S3 checks every ETag and that each part but the last is
   * ≥ 5 MiB: a wrong list rejects with StorageRejectedError (`InvalidPart`, `EntityTooSmall`)
   * and the upload stays open (the client may retry; the reaper ends it).
   */
  async completeMultipart(
    key: string,
    uploadId: string,
    parts: readonly CompletedPart[],
  ): Promise<{ etag: string }> {
    const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber)
    const output = await this.#gate.run(() =>
      this.#gate.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.#gate.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: sorted.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
        }),
      ),
    )
    return { etag: output.ETag ?? '' }
  }

  /** Frees the parts of an upload. Aborting one that no longer exists succeeds (it is gone either way). */
  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await this.#gate.run(() =>
      this.#gate.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.#gate.bucket, Key: key, UploadId: uploadId }))
        .catch((error: { name?: string }) => {
          if (error?.name !== 'NoSuchUpload') throw error
        }),
    )
  }

  /** The bytes an incomplete multipart upload's parts hold (stored and billed, invisible): ListParts, every page. */
  async partBytes(key: string, uploadId: string): Promise<number> {
    let bytes = 0
    let marker: string | undefined
    for (;;) {
      const page = await this.#gate.run(() =>
        this.#gate.client.send(
          new ListPartsCommand({
            Bucket: this.#gate.bucket,
            Key: key,
            UploadId: uploadId,
            ...(marker ? { PartNumberMarker: marker } : {}),
          }),
        ),
      )
      for (const part of page.Parts ?? []) bytes += part.Size ?? 0
      const next = page.NextPartNumberMarker
      if (!page.IsTruncated || !next || next === marker) return bytes
      marker = next
    }
  }

  /**
   * Every multipart upload under `prefix` started before `olderThan`, across all result pages
   * (`pageSize` per ListMultipartUploads call; S3's maximum and default is 1 000).
   *
   * Pages continue from the last key alone: versitygw refuses the `UploadIdMarker` it returned
   * itself (InvalidArgument "Invalid uploadId marker"), and a key marker alone skips only other
   * uploads of that same key — which this system never has, every upload key holds a fresh id.
   */
  async listIncompleteMultipart(
    prefix: string,
    olderThan: Date,
    pageSize = 1000,
  ): Promise<IncompleteMultipart[]> {
    const found: IncompleteMultipart[] = []
    let keyMarker: string | undefined
    for (;;) {
      const page = await this.#gate.run(() =>
        this.#gate.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.#gate.bucket,
            Prefix: prefix,
            MaxUploads: pageSize,
            ...(keyMarker ? { KeyMarker: keyMarker } : {}),
          }),
        ),
      )
      for (const upload of page.Uploads ?? []) {
        if (!upload.Key || !upload.UploadId || !upload.Initiated) continue
        if (upload.Initiated < olderThan) {
          found.push({ key: upload.Key, uploadId: upload.UploadId, initiatedAt: upload.Initiated })
        }
      }
      const next = page.NextKeyMarker ?? page.Uploads?.at(-1)?.Key
      // A server that says "truncated" without moving on would loop forever on the same page.
      if (!page.IsTruncated || !next || next === keyMarker) return found
      keyMarker = next
    }
  }

  /** A URL that reads `key` for `expiresS` seconds (variants when VARIANT_URLS=presigned). */
  presignGet(key: string, expiresS = defaultPresignExpiresS): Promise<string> {
    return getSignedUrl(this.#signer, new GetObjectCommand({ Bucket: this.#gate.bucket, Key: key }), {
      expiresIn: expiresS,
    })
  }
}
