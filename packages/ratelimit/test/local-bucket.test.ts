import assert from 'node:assert/strict'
import { test } from 'node:test'
import { LocalBucket, LocalBuckets } from '../src/local-bucket.ts'
import type { LimitRule } from '../src/types.ts'

/** A hand-moved clock: the bucket is pure, so time is whatever the test says. */
function manualNow(startMs = 1_000) {
  let nowMs = startMs
  return {
    now: () => nowMs,
    advance: (ms: number) => {
      nowMs += ms
    },
  }
}

test('a full bucket admits its capacity at once, then denies with the wait for one token', () => {
  const clock = manualNow()
  const bucket = new LocalBucket({ limit: 10, windowMs: 1_000, now: clock.now })
  const answers = Array.from({ length: 12 }, () => bucket.take())
  assert.equal(answers.filter((a) => a.allowed).length, 10)
  const denied = answers[11]
  assert.equal(denied?.allowed, false)
  assert.equal(denied?.remaining, 0)
  // 10 tokens per 1000 ms: one token every 100 ms.
  assert.equal(denied?.retryAfterMs, 100)
  assert.equal(denied?.resetMs, 1_000)
})

test('tokens come back with time, never above the capacity', () => {
  const clock = manualNow()
  const bucket = new LocalBucket({ limit: 10, windowMs: 1_000, capacity: 4, now: clock.now })
  for (let i = 0; i < 4; i++) assert.equal(bucket.take().allowed, true)
  assert.equal(bucket.take().allowed, false)
  clock.advance(250)
  // 2.5 tokens back: two more pass, the third does not.
  assert.equal(bucket.take().allowed, true)
  assert.equal(bucket.take().allowed, true)
  assert.equal(bucket.take().allowed, false)
  clock.advance(60_000)
  assert.equal(bucket.tokens, 4)
})

test('a cost above the capacity never passes and is told to wait a window', () => {
  const bucket = new LocalBucket({ limit: 5, windowMs: 2_000, now: manualNow().now })
  const answer = bucket.take(6)
  assert.equal(answer.allowed, false)
  assert.equal(answer.retryAfterMs, 2_000)
  assert.equal(bucket.take(5).allowed, true, 'the refused cost took nothing')
})

test('a bucket with bad numbers is refused', () => {
  assert.throws(() => new LocalBucket({ limit: 0, windowMs: 1_000 }), RangeError)
  assert.throws(() => new LocalBucket({ limit: 1, windowMs: 0 }), RangeError)
})

test('LocalBuckets: a share of the rule per key, bounded in number, fresh when the rule changes', () => {
  const clock = manualNow()
  const buckets = new LocalBuckets({ maxKeys: 2, now: clock.now })
  const rule: LimitRule = { algorithm: 'gcra', limit: 100, windowMs: 60_000 }
  // A quarter of 100: 25 pass, the 26th does not.
  const admitted = Array.from({ length: 30 }, () => buckets.take('a', rule, 0.25)).filter(
    (d) => d.allowed,
  ).length
  assert.equal(admitted, 25)
  assert.equal(buckets.take('b', rule, 0.25).allowed, true)
  assert.equal(buckets.size, 2)
  // A third key evicts the least recently used ('a'), which then starts full again.
  buckets.take('c', rule, 0.25)
  assert.equal(buckets.size, 2)
  assert.equal(buckets.take('a', rule, 0.25).allowed, true)
  // The same key under a changed rule is a different bucket.
  const bigger: LimitRule = { ...rule, limit: 200 }
  assert.equal(buckets.take('a', bigger, 0.25).remaining, 49)
})
