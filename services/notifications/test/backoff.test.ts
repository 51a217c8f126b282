/**
 * The channel workers' retry delay (pure): full jitter within [0, min(cap, base · 2^retry)], and
 * never below a 429's Retry-After; Retry-After read as seconds or an HTTP date.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { jitterBackoff, TransientSendError } from '../src/sender/backoff.ts'
import { retryAfterMs } from '../src/sender/provider-client.ts'

test('full jitter: the delay spans 0 up to the exponential ceiling, capped', () => {
  const at = (random: number) => jitterBackoff({ baseMs: 100, capMs: 1000, random: () => random })
  assert.equal(at(0)(1), 0)
  assert.equal(at(0.999_999)(1), 100, 'first retry: up to base')
  assert.equal(at(0.999_999)(3), 400, 'third retry: up to base · 2²')
  assert.equal(at(0.5)(3), 200)
  assert.equal(at(0.999_999)(30), 1000, 'capped')
})

test("a 429's Retry-After is the least delay, above the cap if need be", () => {
  const backoff = jitterBackoff({ baseMs: 100, capMs: 1000, random: () => 0.5 })
  assert.equal(backoff(1, 'jitter', new TransientSendError('429', 5000)), 5000)
  assert.equal(backoff(3, 'jitter', new TransientSendError('429', 10)), 200, 'the jitter when it is longer')
  assert.equal(backoff(3, 'jitter', new Error('other')), 200)
})

test('Retry-After: seconds, an HTTP date, or nothing', () => {
  assert.equal(retryAfterMs('2'), 2000)
  assert.equal(retryAfterMs('0.5'), 500)
  assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 7_000), 3000)
  assert.equal(retryAfterMs(undefined), null)
  assert.equal(retryAfterMs('soon'), null)
})
