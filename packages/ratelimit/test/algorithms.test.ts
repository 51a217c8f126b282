import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Redis } from 'ioredis'
import { algorithmScripts } from '../src/algorithms/registry.ts'
import {
  capacityOf,
  maxSlidingLogLimit,
  maxWindowMs,
  RateLimitInputError,
  validateCost,
  validateRule,
} from '../src/algorithms/validation.ts'
import { RedisLimiter, toDecision } from '../src/redis-limiter.ts'
import { parseScriptFileName, scripts } from '../src/scripts.ts'
import { algorithmNames, type LimitRule } from '../src/types.ts'

const fieldOf = (fn: () => void): string | undefined => {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof RateLimitInputError, String(err))
    assert.equal(err.statusCode, 400)
    return err.field
  }
  return undefined
}

test('bad rules are refused naming the field', () => {
  const ok: LimitRule = { algorithm: 'gcra', limit: 10, windowMs: 1000 }
  const cases: Array<[unknown, string]> = [
    [null, 'rule'],
    [{ ...ok, algorithm: 'leaky' }, 'rule.algorithm'],
    [{ ...ok, limit: 0 }, 'rule.limit'],
    [{ ...ok, limit: -5 }, 'rule.limit'],
    [{ ...ok, limit: 2.5 }, 'rule.limit'],
    [{ ...ok, limit: '10' }, 'rule.limit'],
    [{ ...ok, algorithm: 'sliding-log', limit: maxSlidingLogLimit + 1 }, 'rule.limit'],
    [{ ...ok, windowMs: 0 }, 'rule.windowMs'],
    [{ ...ok, windowMs: -1 }, 'rule.windowMs'],
    [{ ...ok, windowMs: Number.NaN }, 'rule.windowMs'],
    [{ ...ok, windowMs: maxWindowMs + 1 }, 'rule.windowMs'],
    [{ ...ok, burst: 0 }, 'rule.burst'],
    [{ ...ok, burst: 1.5 }, 'rule.burst'],
    [{ ...ok, algorithm: 'fixed-window', burst: 5 }, 'rule.burst'],
  ]
  for (const [rule, field] of cases) {
    assert.equal(
      fieldOf(() => validateRule(rule as LimitRule)),
      field,
      JSON.stringify(rule),
    )
  }
  for (const algorithm of algorithmNames)
    assert.doesNotThrow(() => validateRule({ ...ok, algorithm, burst: undefined }))
  assert.doesNotThrow(() => validateRule({ ...ok, burst: 50 }))
})

test('bad costs are refused naming the field; a cost above the capacity is valid (and denied)', () => {
  for (const cost of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '2' as unknown as number]) {
    assert.equal(
      fieldOf(() => validateCost(cost)),
      'cost',
      String(cost),
    )
  }
  assert.doesNotThrow(() => validateCost(1_000_000))
})

test('capacity is burst (default limit) for the buckets and limit for the windows', () => {
  assert.equal(capacityOf({ algorithm: 'token-bucket', limit: 10, windowMs: 1000, burst: 30 }), 30)
  assert.equal(capacityOf({ algorithm: 'gcra', limit: 10, windowMs: 1000 }), 10)
  assert.equal(capacityOf({ algorithm: 'sliding-log', limit: 10, windowMs: 1000 }), 10)
})

test('every algorithm has a script file named <command>-<numberOfKeys>.lua with its Input/Output header', () => {
  for (const algorithm of algorithmNames) {
    const script = scripts.get(algorithmScripts[algorithm].command)
    assert.ok(script, `${algorithm}: no script ${algorithmScripts[algorithm].command}`)
    assert.match(script.lua, /Input:[\s\S]*KEYS\[1\][\s\S]*ARGV\[1\][\s\S]*Output:/)
    // The file name's key count is the number of KEYS the script reads.
    const used = new Set(script.lua.match(/KEYS\[\d+\]/g))
    assert.equal(used.size, script.numberOfKeys, `${script.command} reads ${[...used]}`)
    // Time comes from Redis only.
    assert.match(script.lua, /redis\.call\('TIME'\)/)
    const argvCount = new Set(script.lua.match(/ARGV\[\d+\]/g)).size
    assert.equal(argvCount, algorithmScripts[algorithm].args({ algorithm, limit: 1, windowMs: 1 }, 1).length)
  }
  assert.deepEqual(parseScriptFileName('slidingLog-1.lua'), {
    command: 'slidingLog',
    numberOfKeys: 1,
    method: 'ratelimitSlidingLog',
  })
  assert.equal(parseScriptFileName('sliding_log.lua'), undefined)
})

test('toDecision maps microseconds to milliseconds, and "never" to a window of retry', () => {
  const rule: LimitRule = { algorithm: 'sliding-log', limit: 10, windowMs: 1000 }
  assert.deepEqual(toDecision([1, 7, 999_001, 0, 1_700_000_000_000_000], rule), {
    allowed: true,
    limit: 10,
    remaining: 7,
    resetMs: 1000,
    retryAfterMs: 0,
    decidedAtUs: 1_700_000_000_000_000,
  })
  assert.equal(toDecision([0, 0, 500_000, 1, 1], rule).retryAfterMs, 1, 'never 0 on a deny')
  assert.equal(toDecision([0, 0, 500_000, -1, 1], rule).retryAfterMs, 1000)
})

test('decide() refuses bad input naming the field, before any Redis call', async () => {
  // Never connected, and no offline queue: a command sent would fail with a connection error.
  const redis = new Redis({ lazyConnect: true, enableOfflineQueue: false })
  const limiter = new RedisLimiter({ redis })
  const cases: Array<[string, LimitRule, number, string]> = [
    ['k', { algorithm: 'gcra', limit: 0, windowMs: 1000 }, 1, 'rule.limit'],
    ['k', { algorithm: 'gcra', limit: 10, windowMs: -5 }, 1, 'rule.windowMs'],
    ['k', { algorithm: 'nope' as LimitRule['algorithm'], limit: 10, windowMs: 1000 }, 1, 'rule.algorithm'],
    ['k', { algorithm: 'gcra', limit: 10, windowMs: 1000 }, 0, 'cost'],
    ['k', { algorithm: 'gcra', limit: 10, windowMs: 1000 }, 1.5, 'cost'],
    ['', { algorithm: 'gcra', limit: 10, windowMs: 1000 }, 1, 'key'],
  ]
  for (const [key, rule, cost, field] of cases) {
    await assert.rejects(
      limiter.decide(key, rule, cost),
      (err: unknown) => err instanceof RateLimitInputError && err.field === field,
      field,
    )
  }
  // The control: valid input does reach the (absent) connection.
  await assert.rejects(
    limiter.decide('k', { algorithm: 'gcra', limit: 10, windowMs: 1000 }),
    /writeable|offline/i,
  )
  redis.disconnect()
})
