import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createKeys, keys } from '../src/keys.ts'

test('keys follow shortener:<entity>:<id>, with an optional test prefix', () => {
  assert.equal(keys.link('abc1234'), 'shortener:link:abc1234')
  assert.equal(keys.fillLease('abc1234'), 'shortener:fill:abc1234')
  const prefixed = createKeys('t:42:')
  assert.equal(prefixed.link('x'), 't:42:shortener:link:x')
})
