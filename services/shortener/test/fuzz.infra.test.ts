import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { InjectOptions } from 'fastify'
import { createLink, harness } from './helpers.ts'

/** A seeded PRNG (mulberry32), so a failure reproduces with the printed seed. */
function prng(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const nasty = [
  '',
  ' ',
  'null',
  '{}',
  '[]',
  '"str"',
  '{"url":null}',
  '{"url":{}}',
  '{"url":["https://a.b"]}',
  '{"__proto__":{"x":1},"url":"https://a.b"}',
  '{"constructor":{"prototype":{"x":1}}}',
  '{"url":"https://a.b","alias":"\u0000"}',
  '{"url":"https://a.b","expiresAt":"9999-99-99T99:99:99Z"}',
  '{"url":"https://a.b","expiresAt":"+275760-09-13T00:00:00.000Z"}',
  '{"url":"https://a.b","expiresAt":12345}',
  '{"url":"https://\uD800.com"}',
  '{"url":"https://a.b/\uFFFF\uFFFE"}',
  '{"url":"http://[::1"}',
  '{"url":"http://%zz"}',
  '{"url":"https://a.b","alias":"ＡＢＣ"}',
  '{"url":"https://a.b","alias":"abc","alias":"def"}',
  '{"url": 1e309}',
  '{"url":"https://a.b"',
  '\uFEFF{"url":"https://a.b"}',
  `{"url":"https://${'a'.repeat(5000)}.com"}`,
]

const contentTypes = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  '',
  'application/json, text/plain',
  'APPLICATION/JSON',
]

const paths = [
  '/',
  '/%',
  '/%zz',
  '/%00',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/a/b/c',
  `/${'x'.repeat(300)}`,
  '/😀😀😀',
  '/api',
  '/api/links',
  '/api/links/',
  '/api/links/%ff',
  `/api/links/${'z'.repeat(500)}`,
  '/admin/mitigations?x=1',
  '/?code=1',
  '/abc%20def',
  '/abc?%',
  '//double',
  '/..',
  '/metrics/../readyz',
]

function randomString(rand: () => number, max: number): string {
  const length = Math.floor(rand() * max)
  let out = ''
  for (let i = 0; i < length; i++) {
    const r = rand()
    if (r < 0.7) out += String.fromCharCode(32 + Math.floor(rand() * 95))
    else if (r < 0.85) out += String.fromCharCode(Math.floor(rand() * 32))
    else out += String.fromCodePoint(Math.floor(rand() * 0x10ffff) & ~0x800)
  }
  return out
}

test('fuzz: hundreds of random and malformed requests never get a 5xx', async (t) => {
  const h = await harness(t)
  const { app } = await h.instance()
  const existing = (await createLink(app, { url: 'https://example.com/' })).body.code as string
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000)
  const rand = prng(seed)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T
  const failures: string[] = []

  const check = async (label: string, request: InjectOptions) => {
    const res = await app.inject(request)
    if (res.statusCode >= 500) failures.push(`${res.statusCode} ${label}: ${res.body.slice(0, 200)}`)
    return res
  }

  // Bodies: nasty fixed ones and random ones, under random content types.
  for (let n = 0; n < 300; n++) {
    const body =
      n < nasty.length
        ? (nasty[n] as string)
        : rand() < 0.5
          ? randomString(rand, 300)
          : JSON.stringify({
              url:
                rand() < 0.5
                  ? `https://${rand() < 0.3 ? 'exämple例え' : 'example'}.com/${randomString(rand, 50)}`
                  : randomString(rand, 80),
              ...(rand() < 0.4 ? { alias: randomString(rand, 40) } : {}),
              ...(rand() < 0.3
                ? {
                    expiresAt:
                      rand() < 0.5
                        ? new Date(Date.now() + rand() * 1e10).toISOString()
                        : randomString(rand, 30),
                  }
                : {}),
            })
    const contentType = n < nasty.length ? 'application/json' : pick(contentTypes)
    const res = await check(`POST body ${JSON.stringify(body).slice(0, 120)} (${contentType})`, {
      method: 'POST',
      url: '/api/links',
      headers: contentType ? { 'content-type': contentType } : {},
      payload: body,
    })
    if (res.statusCode < 500)
      assert.ok([201, 400, 409, 413, 415].includes(res.statusCode), `${res.statusCode}`)
    // Whatever was accepted must also redirect cleanly (a non-ASCII URL in a Location header was a 500).
    if (res.statusCode === 201) {
      const code = res.json().code as string
      const followed = await check(`GET /${code} after ${body.slice(0, 80)}`, {
        method: 'GET',
        url: `/${encodeURIComponent(code)}`,
      })
      assert.equal(followed.statusCode, 302)
    }
  }

  // Paths and methods.
  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'] as const
  for (let n = 0; n < 200; n++) {
    const path = n < paths.length ? (paths[n] as string) : `/${encodeURIComponent(randomString(rand, 40))}`
    const method = n < paths.length ? 'GET' : pick(methods)
    await check(`${method} ${path.slice(0, 120)}`, { method, url: path })
  }

  // A huge body and a huge header.
  const huge = await check('huge body', {
    method: 'POST',
    url: '/api/links',
    headers: { 'content-type': 'application/json' },
    payload: `{"url":"https://a.b/${'a'.repeat(2_000_000)}"}`,
  })
  assert.equal(huge.statusCode, 413)
  await check('admin junk', {
    method: 'PUT',
    url: '/admin/mitigations',
    payload: '{"singleFlight":1}',
    headers: { 'content-type': 'application/json' },
  })

  // The service still works after all that.
  assert.equal((await app.inject({ url: `/${existing}` })).statusCode, 302)
  assert.deepEqual(failures, [], `seed ${seed}`)
})
