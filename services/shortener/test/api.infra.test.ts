import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createLink, harness } from './helpers.ts'

test('create → redirect (302, no-cache) → details; unknown 404; expired 410', async (t) => {
  const h = await harness(t)
  const { app, shortener } = await h.instance()

  const created = await createLink(app, { url: 'https://example.com/some/path?q=1' })
  assert.equal(created.status, 201)
  const code = created.body.code as string
  assert.match(code, /^[0-9A-Za-z]{7}$/)
  assert.equal(created.body.shortUrl, `http://sho.rt.test/${code}`)

  const redirect = await app.inject({ url: `/${code}` })
  assert.equal(redirect.statusCode, 302)
  assert.equal(redirect.headers.location, 'https://example.com/some/path?q=1')
  assert.equal(redirect.headers['cache-control'], 'private, max-age=0')

  const head = await app.inject({ method: 'HEAD', url: `/${code}` })
  assert.equal(head.statusCode, 302)
  assert.equal(shortener.recorder.spool.size + shortener.recorder.published, 1, 'a HEAD is not a click')

  const details = await app.inject({ url: `/api/links/${code}` })
  assert.equal(details.statusCode, 200)
  assert.equal(details.json().url, 'https://example.com/some/path?q=1')
  assert.equal(details.json().clicks, 0)
  assert.equal(details.json().expired, false)

  const unknown = await app.inject({ url: '/zzzzzzz' })
  assert.equal(unknown.statusCode, 404)
  assert.equal(unknown.json().code, 'SHORTENER_ERR_NOT_FOUND')
  assert.equal(unknown.headers['cache-control'], 'no-store')
  assert.equal((await app.inject({ url: '/api/links/zzzzzzz' })).statusCode, 404)

  // An expired link: written directly (the API refuses a past expiresAt).
  await shortener.repo.insert({
    id: 999_999,
    code: 'gone-link',
    url: 'https://example.com/old',
    customAlias: true,
    expiresAt: new Date(Date.now() - 1000),
  })
  const expired = await app.inject({ url: '/gone-link' })
  assert.equal(expired.statusCode, 410)
  assert.equal(expired.json().code, 'SHORTENER_ERR_EXPIRED')
  assert.equal((await app.inject({ url: '/api/links/gone-link' })).json().expired, true)
  // Served from the cache the second time, still 410.
  assert.equal((await app.inject({ url: '/gone-link' })).statusCode, 410)
})

test('a link with expiresAt redirects until then', async (t) => {
  const h = await harness(t)
  const { app } = await h.instance()
  const expiresAt = new Date(Date.now() + 3_600_000).toISOString()
  const created = await createLink(app, { url: 'https://example.com/', expiresAt })
  assert.equal(created.status, 201)
  assert.equal(created.body.expiresAt, expiresAt)
  assert.equal((await app.inject({ url: `/${created.body.code}` })).statusCode, 302)
  const past = await createLink(app, { url: 'https://example.com/', expiresAt: '2001-01-01T00:00:00Z' })
  assert.equal(past.status, 400)
  assert.equal(past.body.field, 'body.expiresAt')
})

test('301 mode: permanent redirect with a max-age capped by the link lifetime', async (t) => {
  const h = await harness(t, { env: { REDIRECT_STATUS: '301', REDIRECT_MAX_AGE_S: '86400' } })
  const { app } = await h.instance()
  const forever = await createLink(app, { url: 'https://example.com/a' })
  const res = await app.inject({ url: `/${forever.body.code}` })
  assert.equal(res.statusCode, 301)
  assert.equal(res.headers['cache-control'], 'public, max-age=86400')
  const soon = await createLink(app, {
    url: 'https://example.com/b',
    expiresAt: new Date(Date.now() + 600_000).toISOString(),
  })
  const capped = await app.inject({ url: `/${soon.body.code}` })
  const maxAge = Number(/max-age=(\d+)/.exec(String(capped.headers['cache-control']))?.[1])
  assert.ok(maxAge > 0 && maxAge <= 600, `max-age ${maxAge}`)
})

test('aliases: custom code, taken → 409, reserved → 400', async (t) => {
  const h = await harness(t)
  const { app } = await h.instance()
  const first = await createLink(app, { url: 'https://example.com/1', alias: 'launch-day' })
  assert.equal(first.status, 201)
  assert.equal(first.body.code, 'launch-day')
  const again = await createLink(app, { url: 'https://example.com/2', alias: 'launch-day' })
  assert.equal(again.status, 409)
  assert.equal(again.body.code, 'SHORTENER_ERR_ALIAS_TAKEN')
  // A generated code is taken too.
  const generated = await createLink(app, { url: 'https://example.com/3' })
  const clash = await createLink(app, { url: 'https://example.com/4', alias: generated.body.code })
  assert.equal(clash.status, 409)
  for (const alias of ['metrics', 'api', 'ab', 'with space', 'x'.repeat(33)]) {
    const res = await createLink(app, { url: 'https://example.com/', alias })
    assert.equal(res.status, 400, alias)
    assert.equal(res.body.field, 'body.alias', alias)
  }
  const res = await app.inject({ url: '/launch-day' })
  assert.equal(res.headers.location, 'https://example.com/1')
})

test('bad input is a 400 naming the field; wrong content type 415; huge body 413', async (t) => {
  const h = await harness(t)
  const { app } = await h.instance()
  const cases: Array<[unknown, string]> = [
    [{}, 'body.url'],
    [{ url: 'javascript:alert(1)' }, 'body.url'],
    [{ url: 'data:text/html,hi' }, 'body.url'],
    [{ url: 'ftp://example.com' }, 'body.url'],
    [{ url: 'https://user:pw@example.com' }, 'body.url'],
    [{ url: `https://example.com/${'a'.repeat(2100)}` }, 'body.url'],
    [{ url: 42 }, 'body.url'],
    [{ url: 'https://example.com', expiresAt: 'soon' }, 'body.expiresAt'],
    [{ url: 'https://example.com', alias: 7 }, 'body.alias'],
    [{ url: 'https://sho.rt.test/abc' }, 'body.url'],
  ]
  for (const [payload, field] of cases) {
    const res = await app.inject({ method: 'POST', url: '/api/links', payload: payload as object })
    assert.equal(res.statusCode, 400, JSON.stringify(payload).slice(0, 80))
    assert.equal(res.json().field, field, JSON.stringify(payload).slice(0, 80))
  }
  const extra = await app.inject({
    method: 'POST',
    url: '/api/links',
    payload: { url: 'https://example.com', x: 1 },
  })
  assert.equal(extra.statusCode, 400)
  const badJson = await app.inject({
    method: 'POST',
    url: '/api/links',
    headers: { 'content-type': 'application/json' },
    payload: '{"url":',
  })
  assert.equal(badJson.statusCode, 400)
  const text = await app.inject({
    method: 'POST',
    url: '/api/links',
    headers: { 'content-type': 'text/plain' },
    payload: 'https://example.com',
  })
  assert.equal(text.statusCode, 415)
  const huge = await app.inject({
    method: 'POST',
    url: '/api/links',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ url: `https://example.com/${'a'.repeat(100_000)}` }),
  })
  assert.equal(huge.statusCode, 413)
})

test('OpenAPI document, health and readiness, admin switches', async (t) => {
  const h = await harness(t)
  const { app } = await h.instance()
  const doc = (await app.inject({ url: '/openapi.json' })).json()
  assert.equal(doc.openapi, '3.1.0')
  assert.ok(doc.paths['/api/links'].post)
  assert.deepEqual(Object.keys(doc.paths['/api/links'].post.responses).sort(), [
    '201',
    '400',
    '409',
    '413',
    '415',
    '503',
    '507',
  ])
  assert.ok(doc.paths['/{code}'].get)
  assert.ok(doc.paths['/api/links/{code}'].get)
  assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
  assert.equal((await app.inject({ url: '/readyz' })).statusCode, 200)

  const before = (await app.inject({ url: '/admin/mitigations' })).json()
  assert.equal(before.singleFlight, true)
  const put = await app.inject({ method: 'PUT', url: '/admin/mitigations', payload: { singleFlight: false } })
  assert.equal(put.statusCode, 200)
  assert.equal(put.json().singleFlight, false)
  assert.equal(put.json().negativeCache, true)
  const unknown = await app.inject({ method: 'PUT', url: '/admin/mitigations', payload: { warpDrive: true } })
  assert.equal(unknown.statusCode, 400)
  const notBool = await app.inject({
    method: 'PUT',
    url: '/admin/mitigations',
    payload: { singleFlight: 'yes' },
  })
  assert.equal(notBool.statusCode, 400)
  assert.equal((await app.inject({ url: '/admin/mitigations' })).json().singleFlight, false)
})

test('admin token, when set, guards the switches', async (t) => {
  const h = await harness(t, { env: { ADMIN_TOKEN: 's3cret' } })
  const { app } = await h.instance()
  assert.equal((await app.inject({ url: '/admin/mitigations' })).statusCode, 401)
  const ok = await app.inject({ url: '/admin/mitigations', headers: { authorization: 'Bearer s3cret' } })
  assert.equal(ok.statusCode, 200)
})

test('readiness: naive checks Postgres (down → 503); hardened stays ready', async (t) => {
  // Postgres "down" for this instance only: a pool pointing at a closed port.
  const h = await harness(t)
  const { app } = await h.instance({
    env: {
      DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none',
      DB_CONNECT_TIMEOUT_MS: '200',
      READINESS_DB_TIMEOUT_MS: '300',
    },
  })
  assert.equal(
    (await app.inject({ url: '/readyz' })).statusCode,
    200,
    'hardened default: independent of deps',
  )
  await app.inject({
    method: 'PUT',
    url: '/admin/mitigations',
    payload: { readinessIndependentOfDeps: false },
  })
  const naive = await app.inject({ url: '/readyz' })
  assert.equal(naive.statusCode, 503)
  assert.deepEqual(naive.json().failing, ['postgres'])
  assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'liveness never checks deps')
  // The data plane without Postgres: an unknown code is a 503, not a hang.
  assert.equal((await app.inject({ url: '/abcdefg' })).statusCode, 503)
})
