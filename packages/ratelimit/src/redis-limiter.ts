/**
 * The limiter on Redis (or Redis Cluster): one atomic script call per decision, on Redis's clock.
 * It never reads the local clock, so instances whose clocks disagree decide the same way.
 */
import type { Cluster, Redis } from 'ioredis'
import { algorithmScripts } from './algorithms/registry.ts'
import { capacityOf, validateCost, validateRule } from './algorithms/validation.ts'
import { LimiterKeys } from './keys.ts'
import { type ScriptReply, scriptRunner } from './scripts.ts'
import type { Decision, Limiter, LimitRule } from './types.ts'

/** A decision from Redis, with the Redis time it was made at. */
export interface TimedDecision extends Decision {
  /**
   * Redis `TIME` when the script decided, in microseconds since the epoch: the clock that
   * decided, which is the one to measure accuracy on (an exact integer in a double).
   */
  decidedAtUs: number
}

export interface RedisLimiterOptions {
  /** An ioredis client; a `Cluster` works unchanged (every script's keys share one hash tag). */
  redis: Redis | Cluster
  /** Namespace of every key (default `ratelimit`); no `{` or `}`. */
  prefix?: string
}

export class RedisLimiter implements Limiter {
  readonly keys: LimiterKeys
  readonly #run: ReturnType<typeof scriptRunner>

  constructor(options: RedisLimiterOptions) {
    this.keys = new LimiterKeys(options.prefix)
    this.#run = scriptRunner(options.redis)
  }

  /**
   * Takes `cost` units of `rule` for `key`, atomically, in one round trip. Throws
   * `RateLimitInputError` (naming the field) for a bad rule, cost or key, before calling Redis;
   * a Redis failure rejects with ioredis's error (the failure policy decides what that means).
   */
  async decide(key: string, rule: LimitRule, cost = 1): Promise<TimedDecision> {
    validateRule(rule)
    validateCost(cost)
    const script = algorithmScripts[rule.algorithm]
    const keys = this.keys.scriptKeys(rule.algorithm, key)
    const reply = await this.#run(script.command, keys, script.args(rule, cost))
    return toDecision(reply, rule)
  }
}

/** Maps a script's `{ allowed, remaining, resetUs, retryAfterUs, nowUs }` to a decision in ms. */
export function toDecision(reply: ScriptReply, rule: LimitRule): TimedDecision {
  const [allowed, remaining, resetUs, retryAfterUs, nowUs] = reply as [number, number, number, number, number]
  let retryAfterMs = 0
  if (allowed !== 1) {
    // -1: the cost exceeds the capacity and can never pass; a window is the honest "not soon"
    // (Infinity would not survive JSON or a Retry-After header). Otherwise at least 1 ms.
    retryAfterMs = retryAfterUs < 0 ? rule.windowMs : Math.max(1, Math.ceil(retryAfterUs / 1000))
  }
  return {
    allowed: allowed === 1,
    limit: capacityOf(rule),
    remaining: Math.max(0, remaining),
    resetMs: Math.max(0, Math.ceil(resetUs / 1000)),
    retryAfterMs,
    decidedAtUs: nowUs,
  }
}
