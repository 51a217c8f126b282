/**
 * The paths bench/upload.ts compares, each one round (`concurrency` files of `bytes` at once)
 * timed from the first byte sent to the last answer:
 *
 *   api           POST /api/photos, multipart, the file streamed by the API to S3 (one
 *                 PutObject of the length the form implies, src/storage/declared-put.ts; with
 *                 --env UPLOAD_SINGLE_PUT=0 a lib-storage multipart upload of 5 MiB parts),
 *                 SHA-256 while streaming, then the photo row and its job: 201 only once S3 has
 *                 the object (durableAck);
 *   proxy-form    the same form to bench/upload-proxy.ts, a bare Fastify with @fastify/multipart that
 *                 hashes the file (SHA-256) and streams it as one PutObject of the length the
 *                 bench states: the least a process between client and S3 does under the upload
 *                 contract, with none of the API's own features;
 *   proxy-pipe    the bare bytes PUT to the same proxy, piped as one PutObject: no form, no hash,
 *                 only the extra hop;
 *   raw-signed    one PutObject of the same bytes from this process, with the S3 client the
 *                 service uses (src/storage/s3-client.ts, SigV4 with the payload hashed);
 *   raw-unsigned  the same PutObject with `UNSIGNED-PAYLOAD` (no payload hash): S3's own speed.
 *
 * With --diagnose, two more, to split the cost of the multipart path: the service's storage call
 * for a stream of unknown length (putStream, src/storage/streaming-put.ts) made from this process on the same bytes in 64 KiB chunks (as the
 * multipart parser hands them over), no HTTP in front:
 *
 *   store-5mib-signed     as the API makes it: 5 MiB parts (a 10 MB file is a multipart upload:
 *                         two parts and a Complete), SigV4 payload hash;
 *   store-16mib-unsigned  16 MiB parts (a 10 MB file is one PutObject) and UNSIGNED-PAYLOAD.
 */
import { randomUUID } from 'node:crypto'
import { Agent, request } from 'node:http'
import { Readable } from 'node:stream'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import type { S3Client } from '../src/storage/s3-client.ts'
import type { S3Gate } from '../src/storage/s3-gate.ts'
import { putStream } from '../src/storage/streaming-put.ts'

export const paths = ['api', 'proxy-form', 'proxy-pipe', 'raw-signed', 'raw-unsigned'] as const
export const diagnosticPaths = ['store-5mib-signed', 'store-16mib-unsigned'] as const
export type UploadPath = (typeof paths)[number] | (typeof diagnosticPaths)[number]

export interface PathTotals {
  files: number
  bytes: number
  seconds: number
  /** Per-round MB/s, to show the spread. */
  roundMBps: number[]
  failures: string[]
}

export function emptyTotals(): PathTotals {
  return { files: 0, bytes: 0, seconds: 0, roundMBps: [], failures: [] }
}

/** MB/s (decimal) over everything the path sent: total bytes over total time. */
export function mbPerSecond(t: PathTotals): number | null {
  return t.seconds > 0 ? t.bytes / 1e6 / t.seconds : null
}

export interface UploadTargets {
  baseUrl: string
  /** bench/upload-proxy.ts */
  proxyUrl: string
  bucket: string
  signed: S3Client
  unsigned: S3Client
  signedGate: S3Gate
  unsignedGate: S3Gate
}

/** Each in-flight slot's own copy, its first bytes made unique per upload: dedupe never kicks in. */
export function stamp(buffer: Buffer, serial: number): Buffer {
  buffer.writeUInt32BE(serial, 0)
  buffer.writeUInt32BE(process.pid, 4)
  buffer.writeDoubleBE(Date.now(), 8)
  return buffer
}

/**
 * A multipart body written by hand over node:http: the boundary, the file part's header, the
 * bytes in one write, the closing boundary. The client costs what the raw PUT's costs (one Buffer
 * handed to the socket); fetch with a FormData would stream the Blob through web streams in
 * 64 KiB chunks, which on two shared cores takes CPU from the API being measured.
 */
function postMultipart(url: string, headers: Record<string, string | number>, bytes: Buffer): Promise<void> {
  const boundary = `----faultline-bench-${randomUUID()}`
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.bin"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  )
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
  return send(url, 'POST', { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}` }, [
    head,
    bytes,
    tail,
  ])
}

/** One request whose body is `parts` (one write each), resolved on 201. */
function send(
  url: string,
  method: string,
  headers: Record<string, string | number>,
  parts: readonly Buffer[],
): Promise<void> {
  const length = parts.reduce((sum, p) => sum + p.length, 0)
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers: { ...headers, 'content-length': length } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () =>
        res.statusCode === 201
          ? resolve()
          : reject(
              new Error(
                `${method} ${new URL(url).pathname}: ${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 200)}`,
              ),
            ),
      )
      res.on('error', reject)
    })
    req.on('error', reject)
    for (const part of parts.slice(0, -1)) req.write(part)
    req.end(parts.at(-1))
  })
}

/** Keep-alive, as the S3 client's connections are: neither path pays a TCP handshake per file. */
const agent = new Agent({ keepAlive: true })

const MiB = 1024 * 1024

async function storeStream(gate: S3Gate, bytes: Buffer, partSizeBytes: number): Promise<void> {
  const chunks = function* () {
    for (let at = 0; at < bytes.length; at += 64 * 1024) yield bytes.subarray(at, at + 64 * 1024)
  }
  await putStream(gate, `store/${randomUUID()}`, Readable.from(chunks()), {
    contentType: 'application/octet-stream',
    maxBytes: bytes.length,
    partSizeBytes,
  })
}

async function putRaw(client: S3Client, bucket: string, bytes: Buffer): Promise<void> {
  await client.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: `raw/${randomUUID()}`,
      Body: bytes,
      ContentType: 'application/octet-stream',
    }),
  )
}

/** One round of `buffers.length` uploads at once on `path`, timed from the first byte sent to the last answer. */
export async function uploadRound(
  targets: UploadTargets,
  path: UploadPath,
  buffers: readonly Buffer[],
  owner: string,
  totals: PathTotals,
): Promise<void> {
  const calls = buffers.map((bytes) => {
    if (path === 'api')
      return () => postMultipart(`${targets.baseUrl}/api/photos`, { 'x-user-id': owner }, bytes)
    if (path === 'proxy-pipe')
      return () =>
        send(`${targets.proxyUrl}/pipe`, 'PUT', { 'content-type': 'application/octet-stream' }, [bytes])
    if (path === 'proxy-form')
      return () => postMultipart(`${targets.proxyUrl}/form`, { 'x-file-bytes': bytes.length }, bytes)
    if (path === 'store-5mib-signed') return () => storeStream(targets.signedGate, bytes, 5 * MiB)
    if (path === 'store-16mib-unsigned') return () => storeStream(targets.unsignedGate, bytes, 16 * MiB)
    const client = path === 'raw-signed' ? targets.signed : targets.unsigned
    return () => putRaw(client, targets.bucket, bytes)
  })
  const started = performance.now()
  const outcomes = await Promise.allSettled(calls.map((call) => call()))
  const seconds = (performance.now() - started) / 1000
  const ok = outcomes.filter((o) => o.status === 'fulfilled').length
  for (const o of outcomes) if (o.status === 'rejected') totals.failures.push(String(o.reason).slice(0, 200))
  if (ok === 0) return
  const bytes = buffers.slice(0, ok).reduce((sum, b) => sum + b.length, 0)
  totals.files += ok
  totals.bytes += bytes
  totals.seconds += seconds
  totals.roundMBps.push(bytes / 1e6 / seconds)
}
