/**
 * Mounts the tus server (tus-server.ts) at `/api/tus` and `/api/tus/*` in an encapsulated Fastify
 * plugin: tus reads the request body itself, so inside this plugin no content-type parser reads
 * it (every type is accepted and left unread), and the handler hands the raw Node request and
 * response to `server.handle` after `reply.hijack()`.
 *
 * The owner (`x-user-id`) is checked here, before tus sees the request: a missing or malformed
 * header is the API's usual 400 naming `headers.x-user-id`. OPTIONS (a CORS preflight, which
 * carries no custom header) is answered by tus without it. GET is refused (405): @tus/server
 * would answer it with the upload's bytes — the original, EXIF and GPS included — and a photo is
 * only ever served as its stripped variants.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { TusNotReadableError } from '../errors.ts'
import { photoDocs } from '../routes/openapi.ts'
import { ownerOf } from '../routes/owner.ts'
import { createTusServer, type TusDeps, tusPath } from './tus-server.ts'

export interface TusRouteDeps extends TusDeps {
  /** Closes what the tus routes own (the locker's Redis connection) when the app closes. */
  close?: () => Promise<void> | void
}

export async function tusRoutes(app: FastifyInstance, deps: TusRouteDeps): Promise<void> {
  const server = createTusServer(deps, app.log)
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null))
    const handle = async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.method !== 'OPTIONS') ownerOf(request)
      if (request.method === 'GET') {
        const err = new TusNotReadableError() as InstanceType<typeof TusNotReadableError> & {
          headers: Record<string, string>
        }
        err.headers = { allow: 'POST, HEAD, PATCH, DELETE, OPTIONS' }
        throw err
      }
      reply.hijack()
      await server.handle(request.raw, reply.raw)
    }
    scope.all(tusPath, { config: photoDocs.tusCreate }, handle)
    scope.all(`${tusPath}/*`, { config: photoDocs.tusUpload }, handle)
  })
  if (deps.close) {
    const close = deps.close
    app.addHook('onClose', async () => {
      await close()
    })
  }
}
