/**
 * Memory per active key and Redis ops per decision, per algorithm, measured on a real Redis:
 *
 *   node packages/ratelimit/scripts/measure-memory.ts [--keys 100000] [--redis redis://127.0.0.1:16379]
 *   (--keys 1000000 for a million; check the Redis's maxmemory first)
 *
 * For each algorithm it creates `--keys` active keys under a random prefix (one admitted decision
 * each, through RedisLimiter, pipelined with a bounded number in flight), then reports:
 *  - MEMORY USAGE of a sample of keys (value + key + object overhead, as Redis accounts it) and
 *    the INFO memory used_memory delta over all keys divided by their number (which adds the
 *    keyspace and expiry dictionaries' entries), both extrapolated to 1M keys;
 *  - Redis commands per decision, from the INFO commandstats delta (commands run inside the
 *    script included, the EVALSHA itself excluded), for an admitted and for a denied decision.
 * The sliding log grows with its fill, so it is also measured full (limit 100, cost 100) on a
 * tenth as many keys. Everything it creates is deleted (SCAN + UNLINK on its prefix).
 *
 * Run it alone, under the infra lock: other clients' commands would count as this one's.
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { RedisLimiter } from '../src/redis-limiter.ts'
import { type AlgorithmName, algorithmNames, type LimitRule } from '../src/types.ts'

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '100000' },
    redis: { type: 'string', default: 'redis://127.0.0.1:16379' },
    samples: { type: 'string', default: '500' },
  },
})
const keyCount = Number(values.keys)
const sampleCount = Number(values.samples)
if (!Number.isSafeInteger(keyCount) || keyCount < 1000) throw new Error('--keys must be an integer ≥ 1000')

/** Decisions in flight at once: enough to pipeline, bounded so memory and Redis stay calm. */
const inFlight = 500

const redis = new Redis(values.redis, { enableAutoPipelining: true, maxRetriesPerRequest: 1 })

async function info(section: string): Promise<Map<string, string>> {
  const text = await redis.info(section)
  const fields = new Map<string, string>()
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':')
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1))
  }
  return fields
}

/** Calls per command (`hset` → 12), from INFO commandstats. */
async function commandCalls(): Promise<Map<string, number>> {
  const calls = new Map<string, number>()
  for (const [name, value] of await info('commandstats')) {
    const match = /calls=(\d+)/.exec(value)
    if (name.startsWith('cmdstat_') && match) calls.set(name.slice('cmdstat_'.length), Number(match[1]))
  }
  return calls
}

const usedMemory = async () => Number((await info('memory')).get('used_memory'))
const evictedKeys = async () => Number((await info('stats')).get('evicted_keys'))

/** Commands per decision between two commandstats snapshots, without the script calls and our own INFO. */
function perDecision(before: Map<string, number>, after: Map<string, number>, decisions: number): string {
  const ignored = new Set(['evalsha', 'eval', 'info', 'script|load', 'memory|usage', 'scan', 'unlink'])
  const parts: string[] = []
  let total = 0
  for (const [name, calls] of after) {
    const delta = calls - (before.get(name) ?? 0)
    if (ignored.has(name) || delta <= 0) continue
    const per = delta / decisions
    if (per < 0.05) continue // another client's stray command, not ours
    total += per
    parts.push(`${name.toUpperCase()} ${Number(per.toFixed(2))}`)
  }
  return `${Number(total.toFixed(2))} (${parts.join(', ')})`
}

async function decideAll(limiter: RedisLimiter, count: number, rule: LimitRule, cost: number): Promise<void> {
  for (let start = 0; start < count; start += inFlight) {
    const batch = []
    for (let i = start; i < Math.min(count, start + inFlight); i++)
      batch.push(limiter.decide(`user:${i}`, rule, cost))
    await Promise.all(batch)
  }
}

async function deletePrefix(prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) await redis.unlink(...keys)
  } while (cursor !== '0')
}

interface Row {
  state: string
  keys: number
  memoryUsageBytes: number
  usedMemoryBytesPerKey: number
  opsAdmitted: string
  opsDenied: string
}

async function measure(algorithm: AlgorithmName, state: 'one unit' | 'full', keys: number): Promise<Row> {
  const prefix = `t:mem-${randomBytes(4).toString('hex')}:ratelimit`
  const limiter = new RedisLimiter({ redis, prefix })
  // An hour's window: no key may expire while it is measured (the buckets' keys live only until
  // they are full again, 36 s after one unit of 100 per hour; 0.6 s at 100 per minute).
  const rule: LimitRule = { algorithm, limit: 100, windowMs: 3_600_000 }
  const cost = state === 'full' ? 100 : 1
  try {
    // One decision first, so the script is loaded and its EVAL is not in the figures.
    await limiter.decide('warm-up', rule)
    const memoryBefore = await usedMemory()
    const evictedBefore = await evictedKeys()
    const callsBefore = await commandCalls()
    await decideAll(limiter, keys, rule, cost)
    const callsAfter = await commandCalls()
    const memoryAfter = await usedMemory()
    if ((await evictedKeys()) > evictedBefore)
      throw new Error('Redis evicted keys: fewer --keys or more maxmemory')

    let sampledBytes = 0
    for (let i = 0; i < sampleCount; i++) {
      const user = `user:${Math.floor((i * keys) / sampleCount)}`
      const key = limiter.keys.scriptKeys(algorithm, user)[0] as string
      const bytes = await redis.memory('USAGE', key, 'SAMPLES', 0)
      if (bytes === null) throw new Error(`${key} is gone before it was measured`)
      sampledBytes += Number(bytes)
    }

    // Denied decisions: a second decision on keys whose quota is used up (limit 1), measured alone.
    const deniedKeys = Math.min(keys, 10_000)
    const strict: LimitRule = { algorithm, limit: 1, windowMs: 3_600_000 }
    const denyLimiter = new RedisLimiter({ redis, prefix: `${prefix}:deny` })
    await decideAll(denyLimiter, deniedKeys, strict, 1)
    const deniedBefore = await commandCalls()
    await decideAll(denyLimiter, deniedKeys, strict, 1)
    const deniedAfter = await commandCalls()

    return {
      state,
      keys,
      memoryUsageBytes: sampledBytes / sampleCount,
      usedMemoryBytesPerKey: (memoryAfter - memoryBefore) / keys,
      opsAdmitted: perDecision(callsBefore, callsAfter, keys),
      opsDenied: perDecision(deniedBefore, deniedAfter, deniedKeys),
    }
  } finally {
    await deletePrefix(prefix)
  }
}

const mb = (bytesPerKey: number) => ((bytesPerKey * 1_000_000) / 1024 / 1024).toFixed(0)

const server = await info('server')
const maxMemory = Number((await info('memory')).get('maxmemory'))
console.log(
  `Redis ${server.get('redis_version')}, maxmemory ${maxMemory ? `${(maxMemory / 1024 / 1024).toFixed(0)} MB` : 'none'}, ` +
    `${keyCount} keys per algorithm, rule 100 per hour, ${new Date().toISOString()}`,
)
console.log('')
console.log(
  '| algorithm | key state | bytes/key (MEMORY USAGE) | bytes/key (used_memory Δ) | per 1M keys (used_memory Δ) | Redis commands per admitted decision | per denied decision |',
)
console.log('|---|---|---:|---:|---:|---|---|')
for (const algorithm of algorithmNames) {
  const states: Array<['one unit' | 'full', number]> = [['one unit', keyCount]]
  if (algorithm === 'sliding-log') states.push(['full', Math.floor(keyCount / 10)])
  for (const [state, keys] of states) {
    const row = await measure(algorithm, state, keys)
    const label = state === 'full' ? `full: 100 entries (${keys} keys)` : '1 unit'
    console.log(
      `| ${algorithm} | ${label} | ${row.memoryUsageBytes.toFixed(0)} | ${row.usedMemoryBytesPerKey.toFixed(0)} | ` +
        `${mb(row.usedMemoryBytesPerKey)} MB | ${row.opsAdmitted} | ${row.opsDenied} |`,
    )
  }
}
redis.disconnect()
