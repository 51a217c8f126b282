/**
 * The naive upload path (durableAck off, pm08): the bytes go to a local spool file, the client
 * gets its 201, and the S3 write happens afterwards — what a service does when it treats "the
 * request body arrived" as "the upload is safe". While S3 is down (or if the process dies before
 * the write) the acknowledged upload is lost: the photo row points at an object that never
 * arrives, its job fails, and it ends dead-lettered. Hardened, the route streams to S3 and answers
 * only after S3 confirmed the object.
 */
import { createHash, randomUUID } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { TooLargeError } from '../storage/errors.ts'
import type { ObjectStore } from '../storage/object-store.ts'

export interface Spooled {
  path: string
  bytes: number
  sha256: string
}

/** Writes `source` to a spool file, hashing and counting; over `maxBytes` → TooLargeError. */
export async function spoolToDisk(source: Readable, maxBytes: number): Promise<Spooled> {
  const dir = join(tmpdir(), 'faultline-photos-spool')
  await mkdir(dir, { recursive: true })
  const path = join(dir, randomUUID())
  const hash = createHash('sha256')
  let bytes = 0
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length
      if (bytes > maxBytes) return callback(new TooLargeError(maxBytes))
      hash.update(chunk)
      callback(null, chunk)
    },
  })
  try {
    await pipeline(source, meter, createWriteStream(path))
  } catch (err) {
    await unlink(path).catch(() => {})
    throw err
  }
  return { path, bytes, sha256: hash.digest('hex') }
}

/**
 * After the 201: the spool file to S3, then the spool removed. A failure is logged and the upload
 * is gone (the naive behaviour pm08 measures); nothing retries it.
 */
export async function writeSpoolLater(
  store: Pick<ObjectStore, 'putStream'>,
  spooled: Spooled,
  objectKey: string,
  log: { warn(obj: object, msg: string): void },
): Promise<void> {
  try {
    await store.putStream(objectKey, createReadStream(spooled.path), {
      contentType: 'application/octet-stream',
      maxBytes: spooled.bytes,
    })
  } catch (err) {
    log.warn({ err, objectKey }, 'spooled upload could not be written to S3; it is lost (durableAck off)')
  } finally {
    await unlink(spooled.path).catch(() => {})
  }
}
