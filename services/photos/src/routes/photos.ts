/**
 * The photo routes: the direct upload (multipart, streamed to S3, 201 only once S3 has the
 * object), a photo, a user's list, the SSE stream of a photo's status, and the variants' bytes.
 * Every read is the owner's only: another user's id is the same 404 as an unknown one.
 */
import { randomUUID } from 'node:crypto'
import { unlink } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import { finished } from 'node:stream/promises'
import type {} from '@fastify/multipart'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { invalidField, photoNotFound, variantNotFound } from '../errors.ts'
import type { PhotoEventHub } from '../events.ts'
import type { PhotoRepository } from '../repositories/photos.ts'
import { parsePhotoId } from '../repositories/photos.ts'
import { TooLargeError } from '../storage/errors.ts'
import type { ObjectStore } from '../storage/object-store.ts'
import type { Photo, PhotoStatus } from '../types.ts'
import { type AcceptDeps, acceptStoredOriginal } from '../uploads/accept.ts'
import { predictFirstFileBytes, tapBodyPrefix } from '../uploads/form-length.ts'
import { type Spooled, spoolToDisk, writeSpoolLater } from '../uploads/spool.ts'
import { photoDocs } from './openapi.ts'
import { ownerOf } from './owner.ts'
import { photoView, type VariantUrls } from './views.ts'

export interface PhotoRouteDeps {
  photos: Pick<PhotoRepository, 'get' | 'list' | 'ownsVariant'>
  store: Pick<ObjectStore, 'putStream' | 'putDeclared' | 'getStream'>
  accept: AcceptDeps
  events: Pick<PhotoEventHub, 'watch'>
  variantUrls: VariantUrls
  maxUploadBytes: number
  /** UPLOAD_SINGLE_PUT: stream the file as one PutObject when the form says its length. */
  uploadSinglePut: boolean
  /** The longest pause in a client's bytes during such a PutObject (under S3_TIMEOUT_MS, which would blame S3). */
  uploadStallMs: number
  page: { pageDefault: number; pageMax: number }
  sseTimeoutMs: number
  /** The durableAck switch: 201 only after S3 has the object (on), or once the bytes are spooled (off). */
  durableAck(): boolean
}

const terminal: ReadonlySet<PhotoStatus> = new Set(['ready', 'failed'])

export async function photoRoutes(app: FastifyInstance, deps: PhotoRouteDeps): Promise<void> {
  app.post('/api/photos', { config: photoDocs.upload }, async (request, reply) => {
    const ownerId = ownerOf(request)
    if (!request.isMultipart()) throw invalidField('body', 'file', 'must be sent as multipart/form-data')
    // One part, the file; the multipart limit is a byte above ours so that putStream — which
    // aborts the S3 upload — is the one that notices an oversized file, not a silent truncation.
    const parsing = request.file({ limits: { files: 1, fileSize: deps.maxUploadBytes + 1 } })
    // The plugin now pipes the body into its parser: its first bytes say the file's length.
    const tap = deps.uploadSinglePut ? tapBodyPrefix(request.raw) : undefined
    let prefix: Buffer | undefined
    const file = await parsing
      .catch((err: unknown) => {
        // busboy's own errors (no boundary, a body that ends before its first part does) carry no
        // status: they are the body's fault, a 400 naming it — never a 500. The plugin's (too
        // many parts, not multipart) keep theirs.
        if (hasStatus(err)) throw err
        discardRest(request.raw, deps.maxUploadBytes)
        throw invalidField(
          'body',
          'file',
          `is not in a readable multipart/form-data body (${messageOf(err)})`,
        )
      })
      .finally(() => {
        prefix = tap?.stop()
      })
    // The form's first file part is the photo, whatever the client named its field.
    if (!file) throw invalidField('body', 'file', 'is required (a file part in the form)')
    let objectKey = `incoming/${ownerId}/${randomUUID()}`
    const durable = deps.durableAck()
    const predicted = prefix ? predictFirstFileBytes(request.headers, prefix) : undefined
    let stored: { bytes: number; sha256: string }
    let spooled: Spooled | undefined
    try {
      if (durable && predicted !== undefined && predicted <= deps.maxUploadBytes) {
        const put = await deps.store.putDeclared(objectKey, file.file, {
          contentType: 'application/octet-stream',
          maxBytes: deps.maxUploadBytes,
          declaredBytes: predicted,
          repairKey: `incoming/${ownerId}/${randomUUID()}`,
          stallMs: deps.uploadStallMs,
          bodyComplete: () => finished(request.raw),
        })
        if (put.repaired)
          request.log.info({ predicted, bytes: put.bytes }, 'form not as predicted: upload rewritten')
        objectKey = put.key
        stored = put
      } else if (durable) {
        stored = await deps.store.putStream(objectKey, file.file, {
          contentType: 'application/octet-stream',
          maxBytes: deps.maxUploadBytes,
        })
      } else {
        spooled = await spoolToDisk(file.file, deps.maxUploadBytes)
        stored = spooled
      }
    } catch (err) {
      if (err instanceof TooLargeError) err.field = 'body.file'
      discardRest(request.raw, deps.maxUploadBytes)
      throw err
    }
    if (stored.bytes === 0) {
      // Nothing to process: said now, not as a failed photo later.
      if (!spooled) await deps.accept.deleteObject(objectKey).catch(() => {})
      else await unlink(spooled.path).catch(() => {})
      throw invalidField('body', 'file', 'is empty')
    }
    const { photo, created } = await acceptStoredOriginal(deps.accept, {
      ownerId,
      objectKey,
      sha256: stored.sha256,
      bytes: stored.bytes,
      filename: file.filename || undefined,
    })
    if (spooled) {
      if (created) void writeSpoolLater(deps.store, spooled, objectKey, request.log)
      else await unlink(spooled.path).catch(() => {})
    }
    return reply.code(created ? 201 : 200).send(await photoView(photo, deps.variantUrls(request)))
  })

  app.get<{ Params: { id: string } }>('/api/photos/:id', { config: photoDocs.get }, async (request) => {
    const photo = await ownedPhoto(deps, ownerOf(request), request.params.id)
    return await photoView(photo, deps.variantUrls(request))
  })

  app.get<{ Querystring: { limit?: string; cursor?: string } }>(
    '/api/photos',
    { config: photoDocs.list },
    async (request) => {
      const ownerId = ownerOf(request)
      const limit = parseLimit(request.query.limit, deps.page)
      const cursor = request.query.cursor
      if (cursor !== undefined && parsePhotoId(cursor) === undefined)
        throw invalidField('query', 'cursor', 'must be a nextCursor from an earlier page')
      const { items, more } = await deps.photos.list(ownerId, limit, cursor)
      const urls = deps.variantUrls(request)
      return {
        items: await Promise.all(items.map((p) => photoView(p, urls))),
        nextCursor: more ? (items.at(-1)?.id ?? null) : null,
      }
    },
  )

  app.get<{ Params: { id: string } }>(
    '/api/photos/:id/events',
    { config: photoDocs.events },
    async (request, reply) => {
      const ownerId = ownerOf(request)
      const id = request.params.id
      await ownedPhoto(deps, ownerId, id)
      await streamStatus(deps, reply, ownerId, id)
    },
  )

  app.get<{ Params: { '*': string } }>(
    '/api/variants/*',
    { config: photoDocs.variant },
    async (request, reply) => {
      const file = request.params['*']
      const key = `variants/${file}`
      if (
        !/^variants\/[0-9a-f]{64}\.(webp|jpeg|jpg)$/.test(key) ||
        !(await deps.photos.ownsVariant(ownerOf(request), key))
      )
        throw variantNotFound(file)
      const body = await deps.store.getStream(key)
      return reply
        .header('content-type', key.endsWith('.webp') ? 'image/webp' : 'image/jpeg')
        .header('cache-control', 'private, max-age=31536000, immutable')
        .send(body)
    },
  )
}

/**
 * After a refused upload the parser has stopped reading: discard what the client still sends, so
 * it finishes its request and reads the 413/503 (a client still writing when the connection
 * closes sees a reset, not the answer) — but only so much: past `limitBytes` more, the socket is
 * destroyed, so a client streaming gigabytes cannot hold the connection.
 */
function hasStatus(err: unknown): boolean {
  const status = (err as { statusCode?: unknown } | null)?.statusCode
  return typeof status === 'number' && status >= 400 && status < 500
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function discardRest(raw: IncomingMessage, limitBytes: number): void {
  raw.unpipe()
  let discarded = 0
  raw.on('data', (chunk: Buffer) => {
    discarded += chunk.length
    if (discarded > limitBytes) raw.socket.destroy()
  })
  raw.resume()
}

async function ownedPhoto(deps: PhotoRouteDeps, ownerId: string, rawId: string): Promise<Photo> {
  const id = parsePhotoId(rawId)
  const photo = id === undefined ? undefined : await deps.photos.get(ownerId, id)
  if (!photo) throw photoNotFound(rawId)
  return photo
}

function parseLimit(raw: string | undefined, page: { pageDefault: number; pageMax: number }): number {
  if (raw === undefined) return page.pageDefault
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1 || n > page.pageMax)
    throw invalidField('query', 'limit', `must be an integer from 1 to ${page.pageMax}`)
  return n
}

/**
 * Server-sent events: subscribe first, then send the status the row has now — so a `ready`
 * announced between the two is not missed (the row already says it) — then each announcement,
 * until a terminal status or SSE_TIMEOUT_S.
 */
async function streamStatus(
  deps: PhotoRouteDeps,
  reply: FastifyReply,
  ownerId: string,
  id: string,
): Promise<void> {
  reply.hijack()
  const res = reply.raw
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  })
  let closed = false
  let stop: () => Promise<void> = async () => {}
  const finish = async () => {
    if (closed) return
    closed = true
    clearTimeout(timer)
    await stop()
    res.end()
  }
  // Each status is its own event type (`event: ready`, `event: failed` with the reason, …), so a
  // client listens for the one it waits for: `new EventSource(url).addEventListener('ready', …)`.
  // `known` is the photo when the caller has just read it; a change announced later is read once.
  const send = async (status: PhotoStatus, known?: Photo | null) => {
    if (closed) return
    const photo = status === 'failed' && known === undefined ? await deps.photos.get(ownerId, id) : known
    const reason = status === 'failed' ? (photo?.reason ?? undefined) : undefined
    if (closed) return
    res.write(`event: ${status}\ndata: ${JSON.stringify({ id, status, ...(reason ? { reason } : {}) })}\n\n`)
    if (terminal.has(status)) void finish()
  }
  const timer = setTimeout(() => void finish(), deps.sseTimeoutMs)
  res.on('close', () => void finish())
  stop = await deps.events.watch(id, (status) => void send(status).catch(() => finish()))
  const now = await deps.photos.get(ownerId, id)
  await send(now?.status ?? 'failed', now)
}
