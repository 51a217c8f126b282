import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { connect } from 'node:net'
import { test } from 'node:test'
import { defineError } from '../src/errors.ts'
import { createService, defaultRequestTimeoutMs, type ErrorBody } from '../src/service.ts'
import { captureLogger } from './helpers.ts'

const AliasTakenError = defineError<[string]>('SHORTENER_ERR_ALIAS_TAKEN', 'alias "%s" is already taken', 409)

function build(t: { after: (fn: () => unknown) => void }) {
  const { log, lines } = captureLogger()
  const app = createService({ name: 'test', logger: log, metrics: undefined })
  t.after(() => app.close())
  return { app, lines }
}

test('GET /healthz answers 200 while the process runs', async (t) => {
  const { app } = build(t)
  const res = await app.inject('/healthz')
  assert.equal(res.statusCode, 200)
  assert.deepEqual(res.json(), { status: 'ok' })
})

test('a 5xx hides its message from the client and logs it', async (t) => {
  const { app, lines } = build(t)
  app.get('/boom', async () => {
    throw new Error('connect ECONNREFUSED 10.0.0.7:5432 (password=hunter2)')
  })
  const res = await app.inject('/boom')
  assert.equal(res.statusCode, 500)
  const body = res.json<ErrorBody>()
  assert.deepEqual(body, {
    statusCode: 500,
    code: 'KIT_ERR_INTERNAL',
    error: 'Internal Server Error',
    message: 'Internal Server Error',
  })
  assert.doesNotMatch(res.body, /ECONNREFUSED|hunter2/)
  const logged = lines().find((line) => line.msg === 'request failed')
  assert.ok(logged, 'the 5xx is logged')
  assert.match((logged.err as { message: string }).message, /ECONNREFUSED/)
})

test('a dependency that is down is a 503 with Retry-After, not a 500, and hides the message', async (t) => {
  const { app, lines } = build(t)
  const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:5432'), { code: 'ECONNREFUSED' })
  const poolTimeout = new Error('timeout exceeded when trying to connect')
  const statementTimeout = Object.assign(new Error('canceling statement due to statement timeout'), {
    code: '57014',
  })
  const redisDown = new Error("Stream isn't writeable and enableOfflineQueue options is false")
  const bug = Object.assign(new Error('relation "x" does not exist'), { code: '42P01' })
  const errors = { refused, poolTimeout, statementTimeout, redisDown, bug }
  app.get('/fail/:kind', async (request) => {
    throw errors[(request.params as { kind: keyof typeof errors }).kind]
  })
  for (const kind of ['refused', 'poolTimeout', 'statementTimeout', 'redisDown'] as const) {
    const res = await app.inject(`/fail/${kind}`)
    assert.equal(res.statusCode, 503, kind)
    assert.equal(res.headers['retry-after'], '1', kind)
    assert.equal(res.json<ErrorBody>().code, 'KIT_ERR_DEPENDENCY_UNAVAILABLE', kind)
    assert.doesNotMatch(res.body, /10\.0\.0\.7|statement/, kind)
  }
  // A query bug stays a 500: only outages are worth a retry.
  const res = await app.inject('/fail/bug')
  assert.equal(res.statusCode, 500)
  assert.equal(res.json<ErrorBody>().code, 'KIT_ERR_INTERNAL')
  assert.ok(lines().some((line) => line.msg === 'request failed: a dependency is unavailable'))
})

test('a 5xx with a prefixed code keeps the code and hides the message', async (t) => {
  const { app } = build(t)
  const StorageUnavailable = defineError('SHORTENER_ERR_STORAGE_UNAVAILABLE', 'pool exhausted on db-1', 503)
  app.get('/down', async () => {
    throw new StorageUnavailable()
  })
  const res = await app.inject('/down')
  assert.equal(res.statusCode, 503)
  assert.deepEqual(res.json(), {
    statusCode: 503,
    code: 'SHORTENER_ERR_STORAGE_UNAVAILABLE',
    error: 'Service Unavailable',
    message: 'Service Unavailable',
  })
})

test('a 4xx declared by a service keeps its code, message and field', async (t) => {
  const { app } = build(t)
  app.post('/links', async () => {
    const err = new AliasTakenError('abc') as Error & { field?: string }
    err.field = 'alias'
    throw err
  })
  const res = await app.inject({ method: 'POST', url: '/links', payload: {} })
  assert.equal(res.statusCode, 409)
  assert.deepEqual(res.json(), {
    statusCode: 409,
    code: 'SHORTENER_ERR_ALIAS_TAKEN',
    error: 'Conflict',
    message: 'alias "abc" is already taken',
    field: 'alias',
  })
})

test('a schema validation error is a 400 that names the field', async (t) => {
  const { app } = build(t)
  app.post(
    '/links',
    {
      schema: {
        body: {
          type: 'object',
          required: ['url'],
          properties: { url: { type: 'string', minLength: 5 }, ttlS: { type: 'integer' } },
        },
        querystring: { type: 'object', properties: { limit: { type: 'integer', maximum: 100 } } },
      },
    },
    async () => ({ ok: true }),
  )

  const tooShort = await app.inject({ method: 'POST', url: '/links', payload: { url: 'x' } })
  assert.equal(tooShort.statusCode, 400)
  const body = tooShort.json<ErrorBody>()
  assert.equal(body.code, 'KIT_ERR_VALIDATION')
  assert.equal(body.error, 'Bad Request')
  assert.equal(body.field, 'body.url')
  assert.match(body.message, /^body\.url must NOT have fewer than 5 characters/)

  const missing = await app.inject({ method: 'POST', url: '/links', payload: { ttlS: 3 } })
  assert.equal(missing.statusCode, 400)
  assert.equal(missing.json<ErrorBody>().field, 'body.url')
  assert.equal(missing.json<ErrorBody>().message, 'body.url is required')

  const badQuery = await app.inject({
    method: 'POST',
    url: '/links?limit=500',
    payload: { url: 'https://a.b' },
  })
  assert.equal(badQuery.statusCode, 400)
  assert.equal(badQuery.json<ErrorBody>().field, 'querystring.limit')
})

test('an unknown property of a closed schema is a 400 that names it (when the app rejects, not strips, them)', async (t) => {
  const app = createService({
    name: 'test',
    level: 'silent',
    metrics: undefined,
    fastify: { ajv: { customOptions: { removeAdditional: false } } },
  })
  t.after(() => app.close())
  app.post(
    '/closed',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            inner: { type: 'object', additionalProperties: false, properties: { a: { type: 'integer' } } },
          },
        },
      },
    },
    async () => ({ ok: true }),
  )
  const top = await app.inject({ method: 'POST', url: '/closed', payload: { surprise: 1 } })
  assert.equal(top.statusCode, 400)
  assert.equal(top.json<ErrorBody>().field, 'body.surprise')
  assert.equal(top.json<ErrorBody>().message, 'body.surprise is not allowed')
  const nested = await app.inject({ method: 'POST', url: '/closed', payload: { inner: { a: 1, b: 2 } } })
  assert.equal(nested.json<ErrorBody>().field, 'body.inner.b')
})

test('a body that is not valid JSON is a 400 naming the body', async (t) => {
  const { app } = build(t)
  app.post('/links', async () => ({ ok: true }))
  const res = await app.inject({
    method: 'POST',
    url: '/links',
    headers: { 'content-type': 'application/json' },
    payload: '{bad',
  })
  assert.equal(res.statusCode, 400)
  assert.equal(res.json<ErrorBody>().field, 'body')
})

test('an unknown route is a JSON 404', async (t) => {
  const { app } = build(t)
  const res = await app.inject('/nope?x=1')
  assert.equal(res.statusCode, 404)
  assert.deepEqual(res.json(), {
    statusCode: 404,
    code: 'KIT_ERR_ROUTE_NOT_FOUND',
    error: 'Not Found',
    message: 'Route GET /nope not found',
  })
})

test('/readyz is 200 with no checks and flips to 503 naming the failing check', async (t) => {
  const { app } = build(t)
  assert.equal((await app.inject('/readyz')).statusCode, 200)

  let postgresUp = true
  app.readiness.add('postgres', async () => {
    if (!postgresUp) throw new Error('connect ECONNREFUSED 127.0.0.1:25432')
  })
  app.readiness.add('redis', async () => {})

  const ready = await app.inject('/readyz')
  assert.equal(ready.statusCode, 200)
  assert.equal(ready.json().status, 'ready')
  assert.deepEqual(Object.keys(ready.json().checks).sort(), ['postgres', 'redis'])

  postgresUp = false
  const notReady = await app.inject('/readyz')
  assert.equal(notReady.statusCode, 503)
  const body = notReady.json()
  assert.equal(body.status, 'not_ready')
  assert.deepEqual(body.failing, ['postgres'])
  assert.equal(body.checks.postgres.ok, false)
  assert.match(body.checks.postgres.error, /ECONNREFUSED/)
  assert.equal(body.checks.redis.ok, true)

  // pm03: readiness that does not depend on Postgres is one `remove` away, at run time.
  assert.equal(app.readiness.remove('postgres'), true)
  assert.equal((await app.inject('/readyz')).statusCode, 200)
})

test('a readiness check that hangs fails after its timeout and is aborted', async (t) => {
  const { app } = build(t)
  let aborted = false
  app.readiness.add(
    'kafka',
    (signal) =>
      new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => {
          aborted = true
          reject(signal.reason)
        })
      }),
    { timeoutMs: 20 },
  )
  const res = await app.inject('/readyz')
  assert.equal(res.statusCode, 503)
  assert.deepEqual(res.json().failing, ['kafka'])
  assert.match(res.json().checks.kafka.error, /timed out after 20 ms/)
  assert.equal(aborted, true)
})

test('once shutdown began, new requests and both probes get 503, /metrics still answers', async (t) => {
  const { app } = build(t)
  app.get('/work', async () => ({ ok: true }))
  app.readiness.add('postgres', async () => {})
  app.lifecycle.beginShutdown()
  for (const url of ['/work', '/healthz', '/readyz']) {
    const res = await app.inject(url)
    assert.equal(res.statusCode, 503, url)
    assert.equal(res.headers.connection, 'close')
    assert.equal(res.json<ErrorBody>().code, 'KIT_ERR_SHUTTING_DOWN')
  }
  assert.equal((await app.inject('/metrics')).statusCode, 200)
})

test('defineError refuses a code without a package prefix or a non-error status', () => {
  assert.throws(() => defineError('ALIAS_TAKEN' as `${string}_ERR_${string}`, 'x', 409), /PREFIX_ERR_NAME/)
  assert.throws(() => defineError('SHORTENER_ERR_OK', 'x', 200), /400-599/)
  const err = new AliasTakenError('x')
  assert.equal(err.code, 'SHORTENER_ERR_ALIAS_TAKEN')
  assert.equal(err.statusCode, 409)
})

test('a request whose body stops coming is answered 408 within the request timeout, never held open', async (t) => {
  assert.equal(
    createService({ name: 'kit-test', level: 'silent' }).server.requestTimeout,
    defaultRequestTimeoutMs,
  )
  const app = createService({
    name: 'kit-test',
    level: 'silent',
    fastify: { requestTimeout: 500, http: { connectionsCheckingInterval: 100 } },
  })
  app.post('/echo', async (request) => request.body)
  t.after(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const started = Date.now()
  const answer = await new Promise<string>((resolve, reject) => {
    let received = ''
    const socket = connect(port, '127.0.0.1', () =>
      // 100 bytes declared, 6 sent, then nothing: the client stalls mid-body.
      socket.write(
        'POST /echo HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"a":1',
      ),
    )
    socket.on('data', (chunk) => {
      received += chunk.toString()
    })
    socket.on('close', () => resolve(received))
    socket.on('error', reject)
    setTimeout(() => {
      socket.destroy()
      reject(new Error('no answer within 10 s: the stalled request is held open'))
    }, 10_000).unref()
  })
  assert.match(answer, /^HTTP\/1\.1 408 /)
  assert.ok(Date.now() - started >= 500, 'not before the timeout')
})
