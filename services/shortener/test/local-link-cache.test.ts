import assert from 'node:assert/strict'
import { test } from 'node:test'
import { LocalLinkCache } from '../src/local-link-cache.ts'

function clock() {
  const c = { t: 1_000_000, now: () => c.t }
  return c
}
const link = (url: string) => ({ url, expiresAtMs: null })

test('a copy is served for the TTL, never past the soft expiry it was given, then asked for again', () => {
  const c = clock()
  const cache = new LocalLinkCache({ ttlMs: 1000, maxEntries: 10, now: c.now })
  cache.set('a', link('https://a.example'))
  cache.set('b', { url: 'https://b.example', expiresAtMs: 123 }, c.t + 300)
  c.t += 299
  assert.deepEqual(cache.get('a'), { url: 'https://a.example', expiresAtMs: null, untilMs: 1_001_000 })
  assert.equal(cache.get('b')?.expiresAtMs, 123, "the link's own expiry travels with it")
  c.t += 1
  assert.equal(cache.get('b'), undefined, 'gone at the Redis soft expiry')
  c.t += 700
  assert.equal(cache.get('a'), undefined, 'gone at the TTL')
  assert.equal(cache.size, 0, 'expired copies are dropped when looked up')
})

test('bounded: the oldest copy goes first; setting again makes a copy the newest', () => {
  const c = clock()
  const cache = new LocalLinkCache({ ttlMs: 1000, maxEntries: 2, now: c.now })
  cache.set('a', link('a'))
  cache.set('b', link('b'))
  cache.set('a', link('a2'))
  cache.set('c', link('c'))
  assert.equal(cache.size, 2)
  assert.equal(cache.get('b'), undefined)
  assert.equal(cache.get('a')?.url, 'a2')
  assert.equal(cache.get('c')?.url, 'c')
})

test('TTL 0 is off: nothing is kept', () => {
  const cache = new LocalLinkCache({ ttlMs: 0, maxEntries: 10 })
  assert.equal(cache.enabled, false)
  cache.set('a', link('a'))
  assert.equal(cache.get('a'), undefined)
  assert.throws(() => new LocalLinkCache({ ttlMs: 1, maxEntries: 0 }), RangeError)
})
