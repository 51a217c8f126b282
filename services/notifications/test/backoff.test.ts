/**
 * The channel workers' retry delay (pure): full jitter within [0, min(cap, base · 2^retry)]; a
 * 429 or an open breaker defers instead, for its Retry-After (else the breaker's open time)
 * stretched at random; Retry-After read as seconds or an HTTP date.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { deferralMs, jitterBackoff } from '../src/sender/backoff.ts'
import { retryAfterMs } from '../src/sender/provider-client.ts'

test('full jitter: the delay spans 0 up to the exponential ceiling, capped', () => {
  const at = (random: number) => jitterBackoff({ baseMs: 100, capMs: 1000, random: () => random })
  assert.equal(at(0)(1), 0)
  assert.equal(at(0.999_999)(1), 100, 'first retry: up to base')
  assert.equal(at(0.999_999)(3), 400, 'third retry: up to base · 2²')
  assert.equal(at(0.5)(3), 200)
  assert.equal(at(0.999_999)(30), 1000, 'capped')
})

test("a 429 or an open breaker defers for the Retry-After (else the breaker's open time), spread by up to as much again", () => {
  const o = (random: number) => ({ breakerOpenMs: 5000, minMs: 500, random: () => random })
  const limited = { kind: 'rate_limited', provider: 'email', retryAfterMs: 2000, detail: 'HTTP 429' } as const
  assert.equal(deferralMs(limited, o(0)), 2000)
  assert.equal(deferralMs(limited, o(0.5)), 3000)
  assert.equal(deferralMs({ ...limited, retryAfterMs: null }, o(0)), 5000, 'no Retry-After: the open time')
  assert.equal(
    deferralMs({ ...limited, retryAfterMs: 0 }, o(0)),
    500,
    'Retry-After: 0 waits the floor, no hot loop',
  )
  const open = {
    kind: 'error',
    provider: 'email',
    detail: 'circuit breaker open',
    breakerOpen: true,
  } as const
  assert.equal(deferralMs(open, o(0.999)), 9995)
  // Never past the TTL: a delivery due to expire in 1.5 s comes back then, to be expired.
  assert.equal(deferralMs({ ...limited, retryAfterMs: 3_600_000 }, o(0), 1500), 1500)
  assert.equal(deferralMs(limited, o(0), -20), 1, 'already expired: back at once, to be expired')
  // A failure spends an attempt; a success or a refusal is not deferred either.
  assert.equal(deferralMs({ kind: 'error', provider: 'email', detail: 'HTTP 500' }, o(0)), undefined)
  assert.equal(deferralMs({ kind: 'timeout', provider: 'email', detail: 't' }, o(0)), undefined)
  assert.equal(deferralMs({ kind: 'refused', provider: 'email', detail: 'r' }, o(0)), undefined)
  assert.equal(deferralMs({ kind: 'ok', provider: 'email', messageId: null }, o(0)), undefined)
})

test('Retry-After: seconds, an HTTP date, or nothing', () => {
  assert.equal(retryAfterMs('2'), 2000)
  assert.equal(retryAfterMs('0.5'), 500)
  assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 7_000), 3000)
  assert.equal(retryAfterMs(undefined), null)
  assert.equal(retryAfterMs('soon'), null)
})
