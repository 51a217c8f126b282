/**
 * One limiter "instance" for the correctness tests: a child process with its own ioredis
 * connection (single Redis or Cluster) and its own, deliberately wrong, local clock. It answers
 * the parent's requests over IPC (see accuracy-harness.ts) and, under load, records the Redis
 * time of every admission, as the script reported it.
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster, Redis } from 'ioredis'
import { RedisLimiter } from '../src/redis-limiter.ts'
import type { InstanceReply, InstanceRequest, LoadPlan, LoadResult } from './accuracy-harness.ts'

let redis: Redis | Cluster | undefined
let limiter: RedisLimiter | undefined
/** Redis time (µs) at `syncedAtMs` on this process's monotonic clock: to schedule load phases. */
let redisUsAtSync = 0
let syncedAtMs = 0

const redisNowUs = () => redisUsAtSync + (performance.now() - syncedAtMs) * 1000

async function syncRedisClock(client: Redis): Promise<void> {
  const sentAt = performance.now()
  const [seconds, micros] = await client.time()
  syncedAtMs = (sentAt + performance.now()) / 2
  redisUsAtSync = Number(seconds) * 1e6 + Number(micros)
}

async function init(request: Extract<InstanceRequest, { type: 'init' }>): Promise<unknown> {
  // The skew: this process's wall clock is off by clockOffsetMs. The library must not care.
  const realNow = Date.now
  Date.now = () => realNow() + request.clockOffsetMs
  if (request.target.kind === 'redis') {
    redis = new Redis(request.target.url, { maxRetriesPerRequest: 1 })
    await syncRedisClock(redis)
  } else {
    redis = new Cluster(request.target.nodes, {
      natMap: request.target.natMap,
      redisOptions: { maxRetriesPerRequest: 1 },
    })
    await redis.ping()
    await syncRedisClock(redis.nodes('master')[0] as Redis)
  }
  limiter = new RedisLimiter({ redis, prefix: request.prefix })
  return null
}

async function load(plan: LoadPlan): Promise<LoadResult> {
  const active = limiter as RedisLimiter
  const result: LoadResult = { admitted: [], decisions: 0, errors: 0, firstError: undefined }
  const worker = async () => {
    for (const phase of plan.phases) {
      const waitMs = (phase.fromUs - redisNowUs()) / 1000
      if (waitMs > 0) await sleep(waitMs)
      while (redisNowUs() < phase.toUs) {
        try {
          const decision = await active.decide(plan.key, plan.rule)
          result.decisions++
          if (decision.allowed) result.admitted.push(decision.decidedAtUs)
        } catch (err) {
          result.errors++
          result.firstError ??= String(err)
          await sleep(1)
        }
      }
    }
  }
  await Promise.all(Array.from({ length: plan.concurrency }, worker))
  return result
}

async function handle(request: InstanceRequest): Promise<unknown> {
  switch (request.type) {
    case 'init':
      return init(request)
    case 'decide':
      return (limiter as RedisLimiter).decide(request.key, request.rule, request.cost)
    case 'load':
      return load(request.plan)
    case 'now':
      return Date.now()
    case 'close':
      redis?.disconnect()
      process.disconnect()
      return null
  }
}

process.on('message', (message) => {
  const request = message as InstanceRequest
  handle(request).then(
    (result) => process.connected && process.send?.({ id: request.id, result } satisfies InstanceReply),
    (err: unknown) =>
      process.connected && process.send?.({ id: request.id, error: String(err) } satisfies InstanceReply),
  )
})
