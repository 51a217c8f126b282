import assert from 'node:assert/strict'
import { test } from 'node:test'
import { escapeGlob } from '../src/redis-keys.ts'

test('escapeGlob escapes every character special in a Redis glob, and nothing else', () => {
  assert.equal(escapeGlob('t:ab12:shortener:link:'), 't:ab12:shortener:link:')
  assert.equal(escapeGlob('a*b?c[d]e\\f'), 'a\\*b\\?c\\[d\\]e\\\\f')
})
