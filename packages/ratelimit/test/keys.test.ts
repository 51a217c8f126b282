import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RateLimitInputError } from '../src/algorithms/validation.ts'
import { escapeKey, LimiterKeys, maxKeyLength } from '../src/keys.ts'
import { algorithmNames } from '../src/types.ts'

/** The part of a key Redis Cluster hashes: between the first `{` and the next `}`, if non-empty. */
function hashTagOf(key: string): string {
  const open = key.indexOf('{')
  const close = key.indexOf('}', open + 1)
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key
}

test('every key of an algorithm and user key shares one hash tag naming both', () => {
  const keys = new LimiterKeys('rl')
  for (const algorithm of algorithmNames) {
    const built = keys.scriptKeys(algorithm, 'user:42')
    assert.ok(built.length >= 1)
    for (const key of built) {
      assert.ok(key.startsWith('rl:{'), key)
      assert.equal(hashTagOf(key), `${algorithm}:user:42`)
    }
  }
  assert.deepEqual(keys.scriptKeys('sliding-log', 'a'), ['rl:{sliding-log:a}:log'])
  assert.deepEqual(new LimiterKeys().scriptKeys('gcra', 'a'), ['ratelimit:{gcra:a}:tat'])
})

test('braces in a user key cannot end the hash tag, and escaping is one-to-one', () => {
  const keys = new LimiterKeys('rl')
  const [braced] = keys.scriptKeys('gcra', 'a}b{c')
  assert.equal(hashTagOf(braced as string), 'gcra:a%7Db%7Bc')
  // `%` is escaped too, so a key that already looks escaped stays a different key.
  assert.notEqual(escapeKey('a}b'), escapeKey('a%7Db'))
  assert.equal(escapeKey('a%7Db'), 'a%257Db')
  assert.equal(escapeKey('plain:key/é'), 'plain:key/é')
})

test('a bad key or prefix is refused with a typed error naming the field', () => {
  const keys = new LimiterKeys('rl')
  for (const bad of ['', 'x'.repeat(maxKeyLength + 1), 42 as unknown as string]) {
    assert.throws(
      () => keys.scriptKeys('gcra', bad),
      (err: unknown) =>
        err instanceof RateLimitInputError && err.field === 'key' && err.code === 'RATELIMIT_ERR_BAD_KEY',
    )
  }
  assert.doesNotThrow(() => keys.scriptKeys('gcra', 'x'.repeat(maxKeyLength)))
  for (const bad of ['', 'a{b}', 'x}']) {
    assert.throws(
      () => new LimiterKeys(bad),
      (err: unknown) => err instanceof RateLimitInputError && err.field === 'prefix',
    )
  }
})

test('pattern() matches this prefix literally, glob characters escaped', () => {
  assert.equal(new LimiterKeys('t:ab*:rl').pattern(), 't:ab\\*:rl:*')
})
