/**
 * The presigned-upload routes (the issue's, as written):
 *
 * - `POST /api/uploads {filename, size, contentType, sha256?}` → 201 with the upload's id and
 *   either one presigned PUT `{id, method: 'PUT', url, headers, expiresAt}` or, above
 *   PRESIGN_MULTIPART_THRESHOLD_BYTES, presigned parts `{id, multipart: {partSize, parts:
 *   [{partNumber, url}]}, expiresAt}`. The client PUTs the bytes (with `headers` exactly as given:
 *   they are signed) before `expiresAt`.
 * - `POST /api/uploads/:id/complete` (`{parts: [{partNumber, etag}]}` for multipart, no body for a
 *   PUT) → 201 the new photo, 200 an existing one; the checks and every other answer are in
 *   uploads/presigned.ts.
 */
import type { FastifyInstance } from 'fastify'
import { completeUpload, type PresignedFlowDeps, startUpload } from '../uploads/presigned.ts'
import { parseUploadDeclaration } from '../uploads/presigned-input.ts'
import { photoDocs } from './openapi.ts'
import { ownerOf } from './owner.ts'
import { photoView, type VariantUrls } from './views.ts'

export interface UploadRouteDeps {
  presigned: PresignedFlowDeps
  variantUrls: VariantUrls
  maxUploadBytes: number
}

export async function uploadRoutes(app: FastifyInstance, deps: UploadRouteDeps): Promise<void> {
  app.post('/api/uploads', { config: photoDocs.startUpload }, async (request, reply) => {
    const ownerId = ownerOf(request)
    const declared = parseUploadDeclaration(request.body, deps.maxUploadBytes)
    return reply.code(201).send(await startUpload(deps.presigned, ownerId, declared))
  })

  app.post<{ Params: { id: string } }>(
    '/api/uploads/:id/complete',
    { config: photoDocs.completeUpload },
    async (request, reply) => {
      const ownerId = ownerOf(request)
      const { photo, created } = await completeUpload(
        deps.presigned,
        ownerId,
        request.params.id,
        request.body,
      )
      return reply.code(created ? 201 : 200).send(await photoView(photo, deps.variantUrls(request)))
    },
  )
}
