import assert from 'node:assert/strict'
import { test } from 'node:test'
import { validateAlias, validateExpiresAt, validateTargetUrl } from '../src/validation.ts'

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    assert.equal((err as { statusCode?: number }).statusCode, 400)
    assert.equal((err as { code?: string }).code, 'SHORTENER_ERR_INVALID_FIELD')
    return (err as { field?: string }).field
  }
  return undefined
}

test('accepts ordinary http and https URLs, normalised to ASCII for the Location header', () => {
  for (const url of [
    'https://example.com/',
    'http://example.com/a/b?c=d#e',
    'https://sub.example.co.uk:8443/path;x?y=%20z',
    'http://[2001:db8::1]/',
  ]) {
    assert.equal(validateTargetUrl(url), url)
  }
  assert.equal(validateTargetUrl('https://example.com'), 'https://example.com/')
  assert.equal(validateTargetUrl('HTTPS://Example.COM/Path'), 'https://example.com/Path')
  assert.equal(
    validateTargetUrl('https://例え.jp/パス?q=ü'),
    'https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9?q=%C3%BC',
  )
  // Fits raw, but not once percent-encoded.
  assert.equal(
    fieldOf(() => validateTargetUrl(`https://example.com/${'é'.repeat(1000)}`)),
    'body.url',
  )
})

test('refuses other schemes, credentials, whitespace, control characters and relative URLs', () => {
  const bad = [
    'javascript:alert(1)',
    'JAVASCRIPT:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'ftp://example.com/file',
    'file:///etc/passwd',
    'vbscript:msgbox(1)',
    'https://user:pass@example.com/',
    'https://bank.example@evil.example/',
    'https://example.com/ a',
    ' https://example.com',
    'https://example.com/\nSet-Cookie: x=1',
    'https://example.com/\u0000',
    'https:\\\\evil.example',
    '/relative/path',
    'example.com',
    'https://',
    'http:example.com',
    `https://example.com/${'a'.repeat(2048)}`,
  ]
  for (const url of bad)
    assert.equal(
      fieldOf(() => validateTargetUrl(url)),
      'body.url',
      `should refuse ${JSON.stringify(url)}`,
    )
})

test('refuses links to the shortener itself (a redirect loop)', () => {
  assert.equal(
    fieldOf(() => validateTargetUrl('https://sho.rt/abc', { forbiddenHosts: ['sho.rt'] })),
    'body.url',
  )
  assert.equal(
    fieldOf(() => validateTargetUrl('https://SHO.RT/abc', { forbiddenHosts: ['sho.rt'] })),
    'body.url',
  )
  assert.doesNotThrow(() => validateTargetUrl('https://example.com/', { forbiddenHosts: ['sho.rt'] }))
})

test('aliases: charset, length, reserved words', () => {
  for (const ok of ['abc', 'my-link_2', 'A'.repeat(32), 'Docs2']) assert.equal(validateAlias(ok), ok)
  for (const bad of [
    'ab',
    'a'.repeat(33),
    'has space',
    'dot.ted',
    'slash/x',
    'ünï',
    'api',
    'API',
    'metrics',
    'healthz',
    'readyz',
    'docs',
    'admin',
  ]) {
    assert.equal(
      fieldOf(() => validateAlias(bad)),
      'body.alias',
      `should refuse ${bad}`,
    )
  }
})

test('expiresAt: a date-time in the future', () => {
  const now = Date.parse('2030-01-01T00:00:00Z')
  assert.equal(validateExpiresAt('2030-01-02T00:00:00Z', now).toISOString(), '2030-01-02T00:00:00.000Z')
  for (const bad of ['2029-12-31T23:59:59Z', '2030-01-01T00:00:00Z', 'tomorrow', '']) {
    assert.equal(
      fieldOf(() => validateExpiresAt(bad, now)),
      'body.expiresAt',
      bad,
    )
  }
})
