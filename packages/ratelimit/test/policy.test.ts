import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Registry } from 'prom-client'
import { closeLimiterRedis, createLimiterRedis } from '../src/client.ts'
import { GuardedLimiter } from '../src/policy/guarded-limiter.ts'
import { failurePolicyProblems, hardenedFailurePolicy, naiveFailurePolicy } from '../src/policy/types.ts'
import { RedisLimiter } from '../src/redis-limiter.ts'
import type { LimitRule } from '../src/types.ts'
import { counterValue } from './policy-support.ts'

test('the hardened and naive presets are valid policies', () => {
  assert.deepEqual(failurePolicyProblems(hardenedFailurePolicy), [])
  assert.deepEqual(failurePolicyProblems(naiveFailurePolicy), [])
  // pm06's naive client: a 500 ms timeout and 5 immediate retries, nothing else.
  assert.deepEqual(naiveFailurePolicy.retry, { mode: 'immediate', attempts: 6, attemptTimeoutMs: 500 })
  assert.equal(naiveFailurePolicy.deadlineMs, null)
  assert.equal(naiveFailurePolicy.breaker, false)
})

test('every problem of a bad policy is reported, each naming its field', () => {
  const problems = failurePolicyProblems(
    {
      deadlineMs: 0,
      onFailure: 'local',
      breaker: { failureRateThreshold: 2, minimumRequests: 0, windowMs: 1_000, coolDownMs: -1 },
      retry: { mode: 'backoff', attempts: 0, baseMs: 1, capMs: 0, budget: { ratio: -1 } },
    },
    'rules[2].failure',
  )
  const fields = problems.map((p) => p.split(' ')[0])
  assert.deepEqual(fields, [
    'rules[2].failure.deadlineMs',
    'rules[2].failure.localBucket.limitShare',
    'rules[2].failure.breaker.failureRateThreshold',
    'rules[2].failure.breaker.minimumRequests',
    'rules[2].failure.breaker.coolDownMs',
    'rules[2].failure.retry.attempts',
    'rules[2].failure.retry.capMs',
    'rules[2].failure.retry.budget.ratio',
  ])
})

test('a policy that is not an object, or has an unknown mode, is refused', () => {
  assert.deepEqual(failurePolicyProblems('open'), ['failure must be an object'])
  const problems = failurePolicyProblems({
    deadlineMs: null,
    onFailure: 'maybe',
    breaker: true,
    retry: { mode: 'x' },
  })
  assert.deepEqual(problems, [
    'failure.onFailure must be one of open, closed, local',
    'failure.breaker must be false or an object',
    'failure.retry.mode must be one of none, immediate, backoff',
  ])
})

test('switches flip live: turning the breaker on mid-outage stops the attempts from the next decision', async (t) => {
  // Redis gone for real: nothing listens on port 1, so every attempt fails at once.
  const redis = createLimiterRedis({ url: 'redis://127.0.0.1:1' })
  t.after(() => closeLimiterRedis(redis))
  const registry = new Registry()
  let breakerOn = false
  const breaker = {
    failureRateThreshold: 1,
    minimumRequests: 1_000,
    windowMs: 10_000,
    consecutiveFailures: 2,
    coolDownMs: 60_000,
  }
  const guarded = new GuardedLimiter({
    limiter: new RedisLimiter({ redis }),
    policy: () => ({
      deadlineMs: 100,
      onFailure: 'closed',
      breaker: breakerOn ? breaker : false,
      retry: { mode: 'none' },
    }),
    registry,
  })
  const rule: LimitRule = { algorithm: 'gcra', limit: 10, windowMs: 1_000 }
  const attempts = () => counterValue(registry, 'ratelimit_redis_attempts_total')
  for (let i = 0; i < 5; i++) assert.equal((await guarded.decide('k', rule)).degraded, 'redis-error')
  assert.equal(await attempts(), 5, 'no breaker: every decision tries Redis')
  breakerOn = true
  const reasons = []
  for (let i = 0; i < 5; i++) reasons.push((await guarded.decide('k', rule)).degraded)
  assert.deepEqual(reasons, ['redis-error', 'redis-error', 'breaker-open', 'breaker-open', 'breaker-open'])
  assert.equal(await attempts(), 7)
  breakerOn = false
  assert.equal((await guarded.decide('k', rule)).degraded, 'redis-error', 'off again: back to trying Redis')
  assert.equal(guarded.breakerState(), 'closed')
})
