import assert from 'node:assert/strict'
import { test } from 'node:test'
import { installOpenApi, openApiOnly } from '../src/openapi.ts'
import { createService, errorSchema } from '../src/service.ts'

async function build(t: { after: (fn: () => unknown) => void }) {
  const app = createService({ name: 'test', level: 'silent' })
  t.after(() => app.close())
  app.addSchema(errorSchema)
  await installOpenApi(app, {
    title: 'Test API',
    version: '2.0.0',
    description: 'What the test serves.',
    tags: [{ name: 'things' }],
  })
  return app
}

test('the document is OpenAPI 3.1 with the info given, shared schemas by $id, probes and itself left out', async (t) => {
  const app = await build(t)
  app.post(
    '/api/things',
    {
      schema: {
        summary: 'Create a thing',
        tags: ['things'],
        body: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
        response: {
          201: { type: 'object', properties: { id: { type: 'string' } } },
          400: { $ref: 'Error#' },
        },
      },
    },
    async (_request, reply) => reply.code(201).send({ id: '1' }),
  )
  const res = await app.inject({ url: '/openapi.json' })
  assert.equal(res.statusCode, 200)
  const doc = res.json()
  assert.equal(doc.openapi, '3.1.0')
  assert.deepEqual(doc.info, { title: 'Test API', version: '2.0.0', description: 'What the test serves.' })
  assert.deepEqual(doc.tags, [{ name: 'things' }])
  assert.deepEqual(Object.keys(doc.paths), ['/api/things'])
  const create = doc.paths['/api/things'].post
  assert.equal(create.summary, 'Create a thing')
  assert.deepEqual(create.tags, ['things'])
  assert.deepEqual(create.requestBody.content['application/json'].schema.required, ['name'])
  assert.equal(create.responses['400'].content['application/json'].schema.$ref, '#/components/schemas/Error')
  assert.ok(doc.components.schemas.Error)
})

test('openApiOnly documents a route that Fastify neither validates nor serialises for', async (t) => {
  const app = await build(t)
  app.post(
    '/api/files',
    {
      config: openApiOnly({
        summary: 'Upload a file',
        tags: ['things'],
        body: {
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                properties: { file: { type: 'string', contentMediaType: 'image/*' } },
              },
            },
          },
        },
        response: {
          201: { type: 'object', properties: { id: { type: 'string' } }, additionalProperties: false },
        },
      }),
    },
    // A field the documented response does not list: a serialiser built from it would drop it.
    async (_request, reply) => reply.code(201).send({ id: '1', extra: true }),
  )
  const res = await app.inject({ method: 'POST', url: '/api/files', payload: { anything: 1 } })
  assert.equal(res.statusCode, 201)
  assert.deepEqual(res.json(), { id: '1', extra: true })

  const doc = (await app.inject({ url: '/openapi.json' })).json()
  const upload = doc.paths['/api/files'].post
  assert.equal(upload.summary, 'Upload a file')
  assert.deepEqual(Object.keys(upload.requestBody.content), ['multipart/form-data'])
  assert.deepEqual(Object.keys(upload.responses), ['201'])
})

test('openApiOnly on an app.all route keeps only the methods listed, under the path given', async (t) => {
  const app = await build(t)
  app.all(
    '/api/resumable/*',
    {
      config: openApiOnly({ url: '/api/resumable/{uploadId}', methods: ['HEAD', 'PATCH'], tags: ['things'] }),
    },
    async () => 'ok',
  )
  assert.equal((await app.inject({ method: 'PATCH', url: '/api/resumable/x' })).body, 'ok')

  const doc = (await app.inject({ url: '/openapi.json' })).json()
  assert.deepEqual(Object.keys(doc.paths), ['/api/resumable/{uploadId}'])
  assert.deepEqual(Object.keys(doc.paths['/api/resumable/{uploadId}']).sort(), ['head', 'patch'])
  assert.equal(doc.paths['/api/resumable/{uploadId}'].patch['x-faultline-methods'], undefined)
})
