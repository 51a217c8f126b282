/**
 * The algorithm checks, written once and run on both stores: algorithms.infra.test.ts against the
 * single Redis, cluster.infra.test.ts against Redis Cluster. Each takes a limiter and the client
 * it uses, so the same assertions prove the scripts run unchanged on a cluster.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Cluster, Redis } from 'ioredis'
import type { RedisLimiter } from '../src/redis-limiter.ts'
import { scripts } from '../src/scripts.ts'
import { type AlgorithmName, algorithmNames, type LimitRule } from '../src/types.ts'

export interface CheckContext {
  limiter: RedisLimiter
  redis: Redis | Cluster
  /** Every node that caches scripts: the one Redis, or each master of the cluster. */
  scriptNodes(): Redis[]
}

export interface AlgorithmCheck {
  name: string
  run(ctx: CheckContext): Promise<void>
}

/** The longest a key may live: what the README promises per algorithm. */
export function expiryBoundMs(rule: LimitRule): number {
  if (rule.algorithm === 'sliding-window') return 2 * rule.windowMs
  if (rule.algorithm === 'token-bucket' || rule.algorithm === 'gcra') {
    return Math.ceil((rule.windowMs * (rule.burst ?? rule.limit)) / rule.limit)
  }
  return rule.windowMs
}

async function admitsTheLimit({ limiter, redis }: CheckContext, algorithm: AlgorithmName): Promise<void> {
  const rule: LimitRule = { algorithm, limit: 5, windowMs: 60_000 }
  const decisions = []
  for (let i = 0; i < 6; i++) decisions.push(await limiter.decide('user-1', rule))
  assert.deepEqual(
    decisions.map((d) => d.allowed),
    [true, true, true, true, true, false],
  )
  assert.deepEqual(
    decisions.map((d) => d.remaining),
    [4, 3, 2, 1, 0, 0],
  )
  for (const d of decisions) {
    assert.equal(d.limit, 5)
    assert.ok(d.resetMs > 0 && d.resetMs <= expiryBoundMs(rule), `resetMs ${d.resetMs}`)
  }
  const denied = decisions[5]
  // The counter's retry can pass one window: this window's count must decay through the next.
  const retryBoundMs = expiryBoundMs(rule)
  assert.ok(
    denied && denied.retryAfterMs > 0 && denied.retryAfterMs <= retryBoundMs,
    `retry ${denied?.retryAfterMs}`,
  )
  assert.ok(decisions.slice(0, 5).every((d) => d.retryAfterMs === 0))

  const [key] = limiter.keys.scriptKeys(algorithm, 'user-1')
  const ttlMs = await redis.pttl(key as string)
  assert.ok(ttlMs > 0 && ttlMs <= expiryBoundMs(rule), `${key} pttl ${ttlMs}`)
  // Another user key is untouched.
  assert.equal((await limiter.decide('user-2', rule)).remaining, 4)
}

async function costTakesUnits({ limiter }: CheckContext, algorithm: AlgorithmName): Promise<void> {
  const rule: LimitRule = { algorithm, limit: 5, windowMs: 60_000 }
  const first = await limiter.decide('k', rule, 3)
  assert.equal(first.allowed, true)
  assert.equal(first.remaining, 2)
  const tooMuch = await limiter.decide('k', rule, 3)
  assert.equal(tooMuch.allowed, false)
  assert.equal(tooMuch.remaining, 2, 'a denied decision takes nothing')
  assert.ok(
    tooMuch.retryAfterMs > 0 && tooMuch.retryAfterMs <= expiryBoundMs(rule),
    `retry ${tooMuch.retryAfterMs}`,
  )
  assert.equal((await limiter.decide('k', rule, 2)).remaining, 0)

  const never = await limiter.decide('fresh', rule, 6)
  assert.equal(never.allowed, false)
  assert.equal(never.remaining, 5)
  assert.equal(never.retryAfterMs, rule.windowMs)
}

async function retryAfterIsEnough({ limiter }: CheckContext, algorithm: AlgorithmName): Promise<void> {
  const rule: LimitRule = { algorithm, limit: 2, windowMs: 300 }
  let denied = await limiter.decide('k', rule)
  while (denied.allowed) denied = await limiter.decide('k', rule)
  assert.ok(
    denied.retryAfterMs > 0 && denied.retryAfterMs <= expiryBoundMs(rule),
    `retry ${denied.retryAfterMs}`,
  )
  await sleep(denied.retryAfterMs)
  assert.equal((await limiter.decide('k', rule)).allowed, true)
}

const perAlgorithm: AlgorithmCheck[] = algorithmNames.flatMap((algorithm) => [
  {
    name: `${algorithm}: admits the limit, then denies with remaining 0, a reset and a retry-after; the key expires`,
    run: (ctx: CheckContext) => admitsTheLimit(ctx, algorithm),
  },
  {
    name: `${algorithm}: cost takes that many units; a cost above the capacity is denied, retry = the window`,
    run: (ctx: CheckContext) => costTakesUnits(ctx, algorithm),
  },
  {
    name: `${algorithm}: waiting retryAfterMs is enough for the denied cost to pass`,
    run: (ctx: CheckContext) => retryAfterIsEnough(ctx, algorithm),
  },
])

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex')

export const algorithmChecks: AlgorithmCheck[] = [
  ...perAlgorithm,
  {
    name: 'token bucket and GCRA: burst above the rate admits burst at once, then the rate',
    async run({ limiter, redis }) {
      for (const algorithm of ['token-bucket', 'gcra'] as const) {
        const rule: LimitRule = { algorithm, limit: 1, windowMs: 60_000, burst: 4 }
        const allowed = []
        for (let i = 0; i < 6; i++) allowed.push((await limiter.decide('k', rule)).allowed)
        assert.deepEqual(allowed, [true, true, true, true, false, false], algorithm)
        const denied = await limiter.decide('k', rule)
        // One unit per minute: the next one is about a minute away.
        assert.ok(
          denied.retryAfterMs > 59_000 && denied.retryAfterMs <= 60_000,
          `${algorithm} ${denied.retryAfterMs}`,
        )
        assert.equal(denied.limit, 4)
        const ttlMs = await redis.pttl(limiter.keys.scriptKeys(algorithm, 'k')[0] as string)
        assert.ok(
          ttlMs > 230_000 && ttlMs <= 240_000,
          `${algorithm}: full again after 4 minutes, pttl ${ttlMs}`,
        )
      }
    },
  },
  {
    name: 'sliding log: a cost of n stores n entries',
    async run({ limiter, redis }) {
      const rule: LimitRule = { algorithm: 'sliding-log', limit: 10, windowMs: 60_000 }
      await limiter.decide('k', rule, 4)
      await limiter.decide('k', rule, 3)
      assert.equal(await redis.zcard(limiter.keys.scriptKeys('sliding-log', 'k')[0] as string), 7)
      assert.equal((await limiter.decide('k', rule, 4)).allowed, false)
    },
  },
  {
    name: 'decidedAtUs is Redis time',
    async run({ limiter, scriptNodes }) {
      const [seconds, micros] = await (scriptNodes()[0] as Redis).time()
      const before = Number(seconds) * 1e6 + Number(micros)
      const d = await limiter.decide('k', { algorithm: 'gcra', limit: 1, windowMs: 1000 })
      assert.ok(Number.isSafeInteger(d.decidedAtUs))
      assert.ok(
        d.decidedAtUs >= before && d.decidedAtUs < before + 5_000_000,
        `${d.decidedAtUs} vs ${before}`,
      )
    },
  },
  {
    name: 'after SCRIPT FLUSH every algorithm reloads its script and decides (NOSCRIPT recovery)',
    async run({ limiter, scriptNodes }) {
      const rule = (algorithm: AlgorithmName): LimitRule => ({ algorithm, limit: 10, windowMs: 60_000 })
      for (const algorithm of algorithmNames)
        assert.equal((await limiter.decide('k', rule(algorithm))).remaining, 9)
      const shas = [...scripts.values()].map((s) => sha1(s.lua))
      for (const node of scriptNodes()) {
        await node.script('FLUSH')
        assert.deepEqual(
          await node.script('EXISTS', ...shas),
          shas.map(() => 0),
        )
      }
      for (const algorithm of algorithmNames)
        assert.equal((await limiter.decide('k', rule(algorithm))).remaining, 8)
      // Each script is cached again on the node that ran it.
      const loaded = new Set<string>()
      for (const node of scriptNodes()) {
        const exists = (await node.script('EXISTS', ...shas)) as number[]
        shas.forEach((sha, i) => {
          if (exists[i] === 1) loaded.add(sha)
        })
      }
      assert.equal(loaded.size, shas.length, 'every script loaded again')
    },
  },
]
