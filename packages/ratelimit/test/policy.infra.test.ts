/**
 * The failure policy against a real Redis that Toxiproxy slows down or takes away. Run under the
 * infra lock (the proxy is shared): `flock /tmp/faultline-infra.lock node --test <this file>`.
 * No assertion is on time: a slow Redis shows as decisions that come back degraded, and the
 * attempt counter shows what reached Redis.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { latency } from '@faultline/toxiproxy'
import { RateLimitInputError } from '../src/algorithms/validation.ts'
import { GuardedLimiter } from '../src/policy/guarded-limiter.ts'
import { type FailurePolicy, naiveFailurePolicy } from '../src/policy/types.ts'
import type { GuardedDecision, LimitRule } from '../src/types.ts'
import { counterValue, proxiedRedis } from './policy-support.ts'

const rule: LimitRule = { algorithm: 'sliding-log', limit: 100, windowMs: 60_000 }

// A deadline far above a healthy round trip even on a busy machine: Redis answers or fails outright.
const failOpen: FailurePolicy = {
  deadlineMs: 1_000,
  onFailure: 'open',
  breaker: false,
  retry: { mode: 'none' },
}

async function decideMany(limiter: GuardedLimiter, n: number, key = 'k'): Promise<GuardedDecision[]> {
  const decisions: GuardedDecision[] = []
  for (let i = 0; i < n; i++) decisions.push(await limiter.decide(key, rule))
  return decisions
}

test('healthy Redis: decisions come from Redis, one attempt each', async (t) => {
  const r = await proxiedRedis(t)
  if ('reason' in r) return t.skip(r.reason)
  const guarded = new GuardedLimiter({ limiter: r.limiter, policy: failOpen, registry: r.registry })
  const decisions = await decideMany(guarded, 3)
  assert.deepEqual(
    decisions.map((d) => [d.allowed, d.remaining, d.degraded]),
    [
      [true, 99, undefined],
      [true, 98, undefined],
      [true, 97, undefined],
    ],
  )
  assert.equal(await counterValue(r.registry, 'ratelimit_redis_attempts_total'), 3)
  assert.equal(await counterValue(r.registry, 'ratelimit_decisions_total', { outcome: 'allowed' }), 3)
  assert.equal(await counterValue(r.registry, 'ratelimit_degraded_total'), 0)
})

test('Redis slower than the deadline: decisions come back degraded by the deadline, open or closed', async (t) => {
  const r = await proxiedRedis(t)
  if ('reason' in r) return t.skip(r.reason)
  let policy: FailurePolicy = failOpen
  // The policy is read on every decision: flipping it here is what a service's switch does.
  const guarded = new GuardedLimiter({ limiter: r.limiter, policy: () => policy, registry: r.registry })
  await guarded.decide('k', rule) // connected and the script cached before the fault
  policy = { ...failOpen, deadlineMs: 25 }
  const toxic = await r.toxiproxy.addToxic(r.proxyName, latency({ latencyMs: 500 }))
  t.after(() => r.toxiproxy.removeToxic(r.proxyName, toxic.name).catch(() => {}))

  const open = await decideMany(guarded, 3)
  assert.deepEqual(
    open.map((d) => [d.allowed, d.degraded]),
    Array(3).fill([true, 'deadline']),
  )
  policy = { ...policy, onFailure: 'closed' }
  const closed = await decideMany(guarded, 2)
  assert.deepEqual(
    closed.map((d) => [d.allowed, d.degraded]),
    Array(2).fill([false, 'deadline']),
  )
  assert.ok(
    closed.every((d) => d.retryAfterMs >= 1_000),
    'a fail-closed deny says when to come back',
  )
  await r.toxiproxy.removeToxic(r.proxyName, toxic.name)
  assert.equal(await counterValue(r.registry, 'ratelimit_degraded_total', { reason: 'deadline' }), 5)
  assert.equal(await counterValue(r.registry, 'ratelimit_decisions_total', { outcome: 'denied' }), 2)
})

test('Redis gone: fail-open admits, fail-closed denies, the local bucket admits its share only', async (t) => {
  const r = await proxiedRedis(t)
  if ('reason' in r) return t.skip(r.reason)
  let policy: FailurePolicy = failOpen
  const guarded = new GuardedLimiter({ limiter: r.limiter, policy: () => policy, registry: r.registry })
  await guarded.decide('k', rule)
  await r.toxiproxy.withProxyDisabled(r.proxyName, async () => {
    const open = await decideMany(guarded, 5)
    assert.ok(
      open.every((d) => d.allowed && d.degraded === 'redis-error'),
      JSON.stringify(open),
    )
    policy = { ...failOpen, onFailure: 'closed' }
    const closed = await decideMany(guarded, 5)
    assert.ok(closed.every((d) => !d.allowed && d.degraded === 'redis-error'))
    // Four instances share the rule: this one admits a quarter of 100 from its own bucket.
    policy = { ...failOpen, onFailure: 'local', localBucket: { limitShare: 0.25 } }
    const local = await decideMany(guarded, 40)
    assert.equal(local.filter((d) => d.allowed).length, 25)
    assert.ok(local.every((d) => d.degraded === 'redis-error'))
    assert.equal(local.at(-1)?.allowed, false)
  })
  assert.equal(await counterValue(r.registry, 'ratelimit_degraded_total', { reason: 'redis-error' }), 50)
})

test('the breaker opens after repeated failures and Redis gets no more attempts; it closes once Redis is back', async (t) => {
  const r = await proxiedRedis(t)
  if ('reason' in r) return t.skip(r.reason)
  const policy: FailurePolicy = {
    ...failOpen,
    breaker: {
      failureRateThreshold: 1,
      minimumRequests: 1_000,
      windowMs: 10_000,
      consecutiveFailures: 3,
      coolDownMs: 300,
    },
  }
  const guarded = new GuardedLimiter({ limiter: r.limiter, policy, registry: r.registry })
  await guarded.decide('k', rule)
  const attempts = () => counterValue(r.registry, 'ratelimit_redis_attempts_total')
  await r.toxiproxy.withProxyDisabled(r.proxyName, async () => {
    const before = await attempts()
    const first = await decideMany(guarded, 3)
    assert.ok(first.every((d) => d.degraded === 'redis-error'))
    assert.equal(await attempts(), before + 3)
    assert.equal(guarded.breakerState(), 'open')
    const later = await decideMany(guarded, 20)
    assert.ok(later.every((d) => d.allowed && d.degraded === 'breaker-open'))
    assert.equal(await attempts(), before + 3, 'an open breaker sends nothing to Redis')
  })
  assert.equal(await counterValue(r.registry, 'ratelimit_degraded_total', { reason: 'breaker-open' }), 20)
  // Redis is back: after the cool-down a trial call reaches it and closes the breaker. Bounded
  // polling, because the client reconnects on its own schedule.
  let decision = await guarded.decide('k', rule)
  for (let i = 0; i < 50 && decision.degraded !== undefined; i++) {
    await sleep(100)
    decision = await guarded.decide('k', rule)
  }
  assert.equal(decision.degraded, undefined, 'Redis answers again')
  assert.equal(guarded.breakerState(), 'closed')
})

test('the naive policy makes 6 attempts per decision when Redis is gone', async (t) => {
  const r = await proxiedRedis(t)
  if ('reason' in r) return t.skip(r.reason)
  const guarded = new GuardedLimiter({ limiter: r.limiter, policy: naiveFailurePolicy, registry: r.registry })
  await guarded.decide('k', rule)
  const before = await counterValue(r.registry, 'ratelimit_redis_attempts_total')
  await r.toxiproxy.withProxyDisabled(r.proxyName, async () => {
    const decisions = await decideMany(guarded, 3)
    assert.ok(decisions.every((d) => d.allowed && d.degraded === 'redis-error'))
  })
  assert.equal((await counterValue(r.registry, 'ratelimit_redis_attempts_total')) - before, 3 * 6)
})

test('immediate retries against a slow Redis: every attempt times out and is sent again (pm06)', async (t) => {
  const r = await proxiedRedis(t)
  if ('reason' in r) return t.skip(r.reason)
  const policy: FailurePolicy = {
    deadlineMs: null,
    onFailure: 'open',
    breaker: false,
    retry: { mode: 'immediate', attempts: 6, attemptTimeoutMs: 30 },
  }
  const guarded = new GuardedLimiter({ limiter: r.limiter, policy, registry: r.registry })
  await guarded.decide('k', rule)
  // Counted from here: a warm-up on a busy machine may itself have needed a retry.
  const before = await counterValue(r.registry, 'ratelimit_redis_attempts_total')
  const decision = await r.toxiproxy.withToxic(r.proxyName, latency({ latencyMs: 300 }), () =>
    guarded.decide('k', rule),
  )
  assert.equal(decision.degraded, 'deadline')
  assert.equal((await counterValue(r.registry, 'ratelimit_redis_attempts_total')) - before, 6)
})

test('backoff with a retry budget: an outage costs Redis at most 10% extra attempts', async (t) => {
  const r = await proxiedRedis(t)
  if ('reason' in r) return t.skip(r.reason)
  const policy: FailurePolicy = {
    deadlineMs: 200,
    onFailure: 'open',
    breaker: false,
    retry: { mode: 'backoff', attempts: 3, baseMs: 1, capMs: 2, budget: { ratio: 0.1, maxTokens: 1 } },
  }
  const guarded = new GuardedLimiter({ limiter: r.limiter, policy, registry: r.registry })
  await guarded.decide('k', rule)
  const before = await counterValue(r.registry, 'ratelimit_redis_attempts_total')
  const decisions = 30
  await r.toxiproxy.withProxyDisabled(r.proxyName, () => decideMany(guarded, decisions))
  const attempts = (await counterValue(r.registry, 'ratelimit_redis_attempts_total')) - before
  assert.ok(attempts > decisions, `some retries were paid for (${attempts} attempts)`)
  // 10% of the decisions plus the one saved-up token.
  assert.ok(attempts <= decisions * 1.1 + 1, `${attempts} attempts for ${decisions} decisions`)
  assert.ok((await counterValue(r.registry, 'ratelimit_retries_refused_total')) > 0)
})

test("a bad cost or rule is the caller's error: rethrown, never degraded, never sent to Redis", async (t) => {
  const r = await proxiedRedis(t)
  if ('reason' in r) return t.skip(r.reason)
  const guarded = new GuardedLimiter({ limiter: r.limiter, policy: failOpen, registry: r.registry })
  await assert.rejects(guarded.decide('k', rule, 0), RateLimitInputError)
  await assert.rejects(guarded.decide('k', { ...rule, windowMs: -1 }), RateLimitInputError)
  assert.equal(await counterValue(r.registry, 'ratelimit_degraded_total'), 0)
  assert.equal(await counterValue(r.registry, 'ratelimit_decisions_total'), 0)
  assert.equal(await counterValue(r.registry, 'ratelimit_redis_attempts_total'), 0)
})
