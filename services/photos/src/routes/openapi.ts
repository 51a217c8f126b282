/**
 * How each photos route appears in `GET /openapi.json`. The routes check their input in code (the
 * owner header, multipart parts, the presigned bodies) and tus and the event stream write the raw
 * response, so none has a Fastify schema, which would validate or serialise and change what a
 * route accepts or answers: they describe themselves with the kit's `openApiOnly` instead, which
 * only the document reads. What is written here is what the handlers do (see each route).
 */
import { openApiOnly } from '@faultline/kit/openapi'
import { errorResponses } from '@faultline/kit/service'
import { ownerPatternSource } from './owner.ts'

export const openApiTags = [
  { name: 'photos', description: 'Direct uploads, reads, the status stream and the variants' },
  { name: 'uploads', description: 'Presigned uploads straight to S3, then completed here' },
  { name: 'tus', description: 'Resumable uploads over the tus protocol 1.0.0' },
  { name: 'admin' },
]

const owner = {
  type: 'object',
  properties: {
    'x-user-id': {
      type: 'string',
      pattern: ownerPatternSource,
      description: 'The owner (a stand-in for a gateway-verified identity); missing or malformed is a 400.',
    },
  },
  required: ['x-user-id'],
} as const

const idParams = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } as const

const photo = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    status: { type: 'string', enum: ['processing', 'ready', 'failed'] },
    reason: { type: 'string', description: 'Why processing failed, for a user to read.' },
    contentType: { type: ['string', 'null'] },
    bytes: { type: 'integer' },
    sha256: { type: 'string' },
    filename: { type: ['string', 'null'] },
    width: { type: ['integer', 'null'] },
    height: { type: ['integer', 'null'] },
    placeholder: { type: ['string', 'null'], description: 'A small placeholder (thumbhash).' },
    variants: {
      type: 'object',
      description: 'URLs by size and format: `variants.thumb.webp`, `variants.preview.jpeg`.',
      additionalProperties: { type: 'object', additionalProperties: { type: 'string' } },
    },
    createdAt: { type: 'string', format: 'date-time' },
    processedAt: { type: ['string', 'null'], format: 'date-time' },
  },
  required: ['id', 'status', 'bytes', 'sha256', 'variants', 'createdAt'],
} as const

const storedPhoto = {
  201: { description: 'A new photo, durable in S3 and queued for processing', ...json(photo) },
  200: { description: 'The photo this owner already has with the same bytes', ...json(photo) },
}

function json(schema: object) {
  return { content: { 'application/json': { schema } } }
}

/** tus answers its own errors in plain text; only the owner check before it answers with the API's JSON error. */
const tusText = (description: string) => ({
  description,
  content: { 'text/plain': { schema: { type: 'string' } } },
})
const tusErrors = {
  400: {
    description: '`x-user-id` missing or malformed (the JSON error naming it), or a tus header invalid',
    content: {
      'application/json': { schema: { $ref: 'Error#' } },
      'text/plain': { schema: { type: 'string' } },
    },
  },
  404: tusText("An unknown upload, or another owner's"),
  409: tusText('PATCH: `Upload-Offset` is not where the upload is'),
  410: tusText('The upload expired'),
  413: tusText('Larger than MAX_UPLOAD_BYTES'),
  423: tusText('Another request holds the upload (a Redis lock across instances); retry'),
  503: tusText('S3 unavailable; try again later'),
}
const integerHeader = (description: string) => ({ type: 'integer', description })

export const photoDocs = {
  upload: openApiOnly({
    summary: 'Upload a photo (multipart/form-data, streamed to S3)',
    description:
      'One part named `file`, streamed to S3 and never held in memory; 201 only once S3 has the object. ' +
      'Too large is 413 naming `body.file`; S3 unavailable is 503 + Retry-After.',
    tags: ['photos'],
    headers: owner,
    body: {
      content: {
        'multipart/form-data': {
          schema: {
            type: 'object',
            properties: { file: { type: 'string', contentMediaType: 'application/octet-stream' } },
            required: ['file'],
          },
        },
      },
    },
    response: { ...storedPhoto, ...errorResponses(400, 413, 503) },
  }),
  get: openApiOnly({
    summary: 'A photo: its status, reason and variants',
    tags: ['photos'],
    headers: owner,
    params: idParams,
    response: { 200: photo, ...errorResponses(400, 404, 503) },
  }),
  list: openApiOnly({
    summary: "The caller's photos, newest first, a page at a time",
    tags: ['photos'],
    headers: owner,
    querystring: {
      type: 'object',
      properties: {
        limit: {
          type: 'string',
          description: 'Items per page (PHOTOS_PAGE_DEFAULT, at most PHOTOS_PAGE_MAX).',
        },
        cursor: { type: 'string', description: "The previous page's nextCursor." },
      },
    },
    response: {
      200: {
        type: 'object',
        properties: { items: { type: 'array', items: photo }, nextCursor: { type: ['string', 'null'] } },
        required: ['items', 'nextCursor'],
      },
      ...errorResponses(400, 503),
    },
  }),
  events: openApiOnly({
    summary: "A photo's status as server-sent events",
    description:
      'Sends the status now and at each change, each as its own event type (`event: processing`, ' +
      '`event: ready`, `event: failed`) with `{id, status, reason?}`, and closes after a terminal status ' +
      '(ready, failed) or SSE_TIMEOUT_S.',
    tags: ['photos'],
    headers: owner,
    params: idParams,
    response: {
      200: {
        description: 'The event stream',
        content: { 'text/event-stream': { schema: { type: 'string' } } },
      },
      ...errorResponses(400, 404, 503),
    },
  }),
  variant: openApiOnly({
    summary: "A variant's bytes (content-addressed, cacheable for a year)",
    tags: ['photos'],
    url: '/api/variants/{file}',
    headers: owner,
    params: {
      type: 'object',
      properties: { file: { type: 'string', description: '`<sha256>.webp`, `.jpeg` or `.jpg`' } },
      required: ['file'],
    },
    response: {
      200: {
        description: 'The image',
        content: {
          'image/webp': { schema: { type: 'string', contentMediaType: 'image/webp' } },
          'image/jpeg': { schema: { type: 'string', contentMediaType: 'image/jpeg' } },
        },
      },
      ...errorResponses(400, 404, 503),
    },
  }),
  startUpload: openApiOnly({
    summary: 'Start a presigned upload: a signed PUT, or signed parts above the multipart threshold',
    tags: ['uploads'],
    headers: owner,
    body: {
      type: 'object',
      properties: {
        filename: { type: 'string', minLength: 1, maxLength: 255 },
        size: { type: 'integer', minimum: 1, description: 'Bytes, at most MAX_UPLOAD_BYTES (else 413).' },
        contentType: { type: 'string', description: 'An image type such as image/jpeg.' },
        sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
      },
      required: ['filename', 'size', 'contentType'],
    },
    response: {
      201: {
        description:
          'Send the bytes with the headers given (they are signed) before expiresAt, then complete.',
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: {
                id: { type: 'string' },
                method: { type: 'string', enum: ['PUT'] },
                url: { type: 'string' },
                headers: { type: 'object', additionalProperties: { type: 'string' } },
                multipart: {
                  type: 'object',
                  properties: {
                    partSize: { type: 'integer' },
                    parts: {
                      type: 'array',
                      items: {
                        type: 'object',
                        properties: { partNumber: { type: 'integer' }, url: { type: 'string' } },
                      },
                    },
                  },
                },
                expiresAt: { type: 'string', format: 'date-time' },
              },
              required: ['id', 'expiresAt'],
            },
          },
        },
      },
      ...errorResponses(400, 413, 503),
    },
  }),
  completeUpload: openApiOnly({
    summary: 'Complete a presigned upload: the object is checked (size, SHA-256) before it becomes a photo',
    description:
      'A body only for a multipart upload: `{parts: [{partNumber, etag}]}`; none for a single PUT.',
    tags: ['uploads'],
    headers: owner,
    params: idParams,
    response: { ...storedPhoto, ...errorResponses(400, 404, 409, 422, 503) },
  }),
  reprocess: openApiOnly({
    summary: 'Reprocess every photo on the backfill lane (body `{"all": true}`)',
    tags: ['admin'],
    body: { type: 'object', properties: { all: { type: 'boolean', enum: [true] } }, required: ['all'] },
    response: {
      202: {
        type: 'object',
        properties: { runId: { type: 'string' }, enqueued: { type: 'integer' } },
      },
      ...errorResponses(400, 401, 503),
    },
  }),
  tusCreate: openApiOnly({
    summary: 'Create a resumable upload (tus 1.0.0 creation)',
    description:
      'Headers `Tus-Resumable: 1.0.0`, `Upload-Length` (at most MAX_UPLOAD_BYTES, else 413) or `Upload-Defer-Length: 1`, ' +
      'optionally `Upload-Metadata` (`filename` is kept). 201 with `Location: /api/tus/<uploadId>`. ' +
      'Handled by @tus/server, which reads the request itself.',
    tags: ['tus'],
    methods: ['POST'],
    headers: owner,
    response: {
      201: {
        type: 'null',
        description: 'Created',
        headers: { Location: { type: 'string', description: '`/api/tus/<uploadId>`' } },
      },
      400: tusErrors[400],
      413: tusErrors[413],
      503: tusErrors[503],
    },
  }),
  tusUpload: openApiOnly({
    summary: 'Resume (HEAD), send bytes (PATCH) or terminate (DELETE) a resumable upload',
    description:
      'HEAD answers `Upload-Offset` and `Upload-Length`, where to resume. PATCH sends ' +
      '`Content-Type: application/offset+octet-stream` bytes from `Upload-Offset` and answers 204 with the new ' +
      '`Upload-Offset`; the PATCH that completes the upload also carries `Photo-Id` and `Photo-Status`. ' +
      "DELETE terminates an unfinished upload. Another owner's upload is the same 404 as an unknown one; " +
      'an expired one is 410.',
    tags: ['tus'],
    url: '/api/tus/{uploadId}',
    methods: ['HEAD', 'PATCH', 'DELETE'],
    headers: owner,
    params: { type: 'object', properties: { uploadId: { type: 'string' } }, required: ['uploadId'] },
    response: {
      200: {
        type: 'null',
        description: 'HEAD: where to resume',
        headers: {
          'Upload-Offset': integerHeader('Bytes stored so far'),
          'Upload-Length': integerHeader('The declared size'),
        },
      },
      204: {
        type: 'null',
        description: 'PATCH: the bytes are stored; DELETE: terminated',
        headers: {
          'Upload-Offset': integerHeader('PATCH: bytes stored so far'),
          'Photo-Id': {
            type: 'string',
            description: 'The PATCH that completes the upload: the photo it became',
          },
          'Photo-Status': {
            type: 'string',
            description: 'The PATCH that completes the upload: that photo’s status',
          },
        },
      },
      ...tusErrors,
    },
  }),
}
