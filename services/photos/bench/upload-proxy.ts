#!/usr/bin/env node
/**
 * The upload benchmark's two in-between ceilings (bench/upload.ts): a process standing where the
 * API stands, between the client and S3, doing only what any such process must. Whatever the API
 * costs above these is the price of its own features (the prediction of the file's length and its
 * repair, the stall guard, the breaker, logging, metrics, the photo row and its job).
 *
 *   PUT  /pipe   the request body piped as the body of one PutObject of the request's
 *                Content-Length: no parsing, no hash — the cost of one more hop (a second socket
 *                to read, a third process on the cores).
 *   POST /form   multipart/form-data through @fastify/multipart (busboy, as the API), the file
 *                part hashed with SHA-256 on the way (what dedupe needs) and sent as one PutObject
 *                of the length the client states in `x-file-bytes` (the API works it out from the
 *                form's first bytes): the least the upload contract asks for.
 *
 * Both answer 201 with `{}` once S3 has answered the PutObject. The S3 client is the service's
 * (src/storage/s3-client.ts: its timeouts, keep-alive, no Expect: 100-continue), with
 * UNSIGNED-PAYLOAD as for any streamed body.
 *
 *   S3_ENDPOINT=… S3_REGION=… S3_ACCESS_KEY=… S3_SECRET_KEY=… S3_BUCKET=… PORT=3363 \
 *     node services/photos/bench/upload-proxy.ts
 *
 * Prints `listening on http://host:port` once it accepts connections; closes on SIGTERM/SIGINT.
 */
import { createHash, randomUUID } from 'node:crypto'
import { type Readable, Transform } from 'node:stream'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import multipart from '@fastify/multipart'
import Fastify from 'fastify'
import { createS3 } from '../src/storage/s3-client.ts'

const env = (name: string): string => {
  const value = process.env[name]
  if (!value) throw new Error(`upload-proxy: ${name} is required`)
  return value
}

const client = createS3({
  endpoint: env('S3_ENDPOINT'),
  region: env('S3_REGION'),
  accessKeyId: env('S3_ACCESS_KEY'),
  secretAccessKey: env('S3_SECRET_KEY'),
  unsignedPayload: true,
})
const bucket = env('S3_BUCKET')

async function put(body: Readable, bytes: number): Promise<void> {
  await client.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: `proxy/${randomUUID()}`,
      Body: body,
      ContentLength: bytes,
      ContentType: 'application/octet-stream',
    }),
  )
}

function declaredBytes(value: string | string[] | undefined, name: string): number {
  const bytes = Number(value)
  if (!Number.isSafeInteger(bytes) || bytes < 0)
    throw Object.assign(new Error(`${name} is required`), { statusCode: 400 })
  return bytes
}

const app = Fastify({ logger: false, bodyLimit: 1024 ** 3 })
await app.register(multipart, { limits: { files: 1, fileSize: 1024 ** 3 } })
// The body of PUT /pipe is handed over as the stream it is.
app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload))

app.put('/pipe', async (request, reply) => {
  await put(request.body as Readable, declaredBytes(request.headers['content-length'], 'content-length'))
  return reply.code(201).send({})
})

app.post('/form', async (request, reply) => {
  const bytes = declaredBytes(request.headers['x-file-bytes'], 'x-file-bytes')
  const file = await request.file()
  if (!file) throw Object.assign(new Error('a file part is required'), { statusCode: 400 })
  const hash = createHash('sha256')
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk)
      callback(null, chunk)
    },
  })
  await put(file.file.pipe(hashing), bytes)
  hash.digest('hex')
  return reply.code(201).send({})
})

app.get('/health', async () => ({ ok: true }))

const address = await app.listen({ port: Number(process.env.PORT ?? 3363), host: '127.0.0.1' })
process.stdout.write(`listening on ${address}\n`)

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    client.destroy()
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  })
}
