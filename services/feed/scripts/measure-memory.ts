/**
 * Redis memory per home timeline, and per million users, measured on a real Redis with the
 * service's own writes (TimelineStore.buildTimeline: the capped sorted set, its sentinel and its
 * active-window TTL), at several fills:
 *
 *   node services/feed/scripts/measure-memory.ts
 *   node services/feed/scripts/measure-memory.ts --fills 0,50,128,129,400,800 --timelines 2000 --redis redis://127.0.0.1:16379
 *
 * For each fill it builds `--timelines` timelines (`--full-timelines` from 128 posts: with the sentinel,
 * past the listpack limit, which are ~10× bigger each) under a random key prefix, with realistic time-ordered post ids
 * (ids.ts: 16-digit integers), then reports:
 *  - MEMORY USAGE of every timeline (value + key + object overhead, as Redis accounts it; SAMPLES 0
 *    = exact) and OBJECT ENCODING: a sorted set of up to zset-max-listpack-entries (128) members is
 *    one compact listpack, above it a skiplist + hash table, so the bytes per entry jump there;
 *  - the INFO memory used_memory delta divided by the timelines (adds the keyspace and expiry
 *    dictionaries' entries: what a million users really cost), extrapolated to 1M users.
 * Also, for the back-of-envelope: one post-cache entry (PostCache.putMany of a post with
 * `--text-chars` of text) and one author recent set at AUTHOR_RECENT_CAP (200).
 * Everything it creates is deleted (SCAN + UNLINK on its prefix).
 *
 * Run it alone, under the infra lock (`flock /tmp/faultline-infra.lock node …`): another client's
 * writes during a step would count as this one's. The cache Redis has maxmemory 256 MB with LRU
 * eviction: the defaults stay under ~40 MB, and a step that saw an eviction fails rather than
 * report a wrong figure.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { firstPostIdAt } from '../src/ids.ts'
import { Keys } from '../src/keys.ts'
import { PostCache } from '../src/post-cache.ts'
import { TimelineStore } from '../src/timeline-store.ts'

const usage = `Usage: node services/feed/scripts/measure-memory.ts [options]

  --fills LIST          posts per timeline to measure (default 0,20,100,127,128,400,800; 800 = TIMELINE_CAP)
  --typical N           the fill called "typical" in the table (default 100)
  --timelines N         timelines built per fill up to 128 posts (default 2000)
  --full-timelines N    timelines built per fill above 128 posts (default 200)
  --text-chars N        text length of the measured post-cache entry (default 140)
  --redis URL           default redis://127.0.0.1:16379 (the cache Redis, direct)
  -h, --help`

const { values } = parseArgs({
  options: {
    fills: { type: 'string', default: '0,20,100,127,128,400,800' },
    typical: { type: 'string', default: '100' },
    timelines: { type: 'string', default: '2000' },
    'full-timelines': { type: 'string', default: '200' },
    'text-chars': { type: 'string', default: '140' },
    redis: { type: 'string', default: 'redis://127.0.0.1:16379' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (values.help) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}

function count(name: string, raw: string | undefined, min: number): number {
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < min) {
    process.stderr.write(`measure-memory: --${name} must be an integer ≥ ${min}, got ${raw}\n${usage}\n`)
    process.exit(2)
  }
  return n
}
const fills = (values.fills ?? '').split(',').map((f) => count('fills', f.trim(), 0))
const typical = count('typical', values.typical, 0)
const smallCount = count('timelines', values.timelines, 10)
const largeCount = count('full-timelines', values['full-timelines'], 10)
const textChars = count('text-chars', values['text-chars'], 1)
const timelineCap = Math.max(800, ...fills)
/** The same TTL the service gives a timeline (ACTIVE_WINDOW_S default, 7 days). */
const activeWindowMs = 7 * 86_400_000
/** Timelines built at once: pipelined, bounded so Redis and this process stay calm. */
const inFlight = 50

const redis = new Redis(values.redis as string, { maxRetriesPerRequest: 1 })

async function info(section: string): Promise<Map<string, string>> {
  const fields = new Map<string, string>()
  for (const line of (await redis.info(section)).split('\r\n')) {
    const at = line.indexOf(':')
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1))
  }
  return fields
}
const usedMemory = async () => Number((await info('memory')).get('used_memory'))
const evictedKeys = async () => Number((await info('stats')).get('evicted_keys'))

/** `n` realistic post ids, newest first: one every ~7 minutes back from now, as a week of posts. */
function postIds(n: number, salt: number): string[] {
  const now = Date.now()
  return Array.from({ length: n }, (_, i) => String(firstPostIdAt(now - i * 409_000 - salt) + (salt % 4096)))
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
  label: string
  keys: number
  encoding: string
  memoryUsageBytes: number
  usedMemoryBytesPerKey: number
}

/**
 * Waits (≤ 10 s) until Redis has freed what an earlier step UNLINKed: UNLINK frees big values in a
 * background thread, and memory it returns during a step would be subtracted from that step's delta.
 */
async function lazyFreeDone(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (Number((await info('memory')).get('lazyfree_pending_objects') ?? 0) === 0) return
    await sleep(50)
  }
  throw new Error('Redis still freeing the previous step after 10 s')
}

/** Runs `build(i)` for i in 0..n-1, `inFlight` at a time; returns the used_memory delta per key. */
async function measureDelta(n: number, build: (i: number) => Promise<unknown>): Promise<number> {
  await lazyFreeDone()
  const before = await usedMemory()
  const evictedBefore = await evictedKeys()
  for (let start = 0; start < n; start += inFlight) {
    const batch: Promise<unknown>[] = []
    for (let i = start; i < Math.min(n, start + inFlight); i++) batch.push(build(i))
    await Promise.all(batch)
  }
  const after = await usedMemory()
  if ((await evictedKeys()) > evictedBefore) throw new Error('Redis evicted keys: use fewer timelines')
  return (after - before) / n
}

async function memoryOf(keys: readonly string[]): Promise<{ bytes: number; encoding: string }> {
  let total = 0
  const encodings = new Set<string>()
  for (const key of keys) {
    const bytes = await redis.memory('USAGE', key, 'SAMPLES', 0)
    if (bytes === null) throw new Error(`${key} is gone before it was measured`)
    total += Number(bytes)
    encodings.add(String(await redis.object('ENCODING', key)))
  }
  return { bytes: total / keys.length, encoding: [...encodings].join('/') }
}

async function measureTimelines(fill: number): Promise<Row> {
  const keys = new Keys(`t:mem-${randomBytes(4).toString('hex')}`)
  const store = new TimelineStore(redis, { keys, timelineCap, authorRecentCap: 200, activeWindowMs })
  // The sentinel is a member too: 127 posts are 128 members, the last fill kept as a listpack.
  const n = fill >= 128 ? largeCount : smallCount
  try {
    await store.buildTimeline('warm-up', postIds(fill, 1))
    const perKey = await measureDelta(n, (i) => store.buildTimeline(String(1_000_000 + i), postIds(fill, i)))
    const sample = Array.from({ length: Math.min(n, 200) }, (_, i) =>
      keys.timeline(String(1_000_000 + Math.floor((i * n) / Math.min(n, 200)))),
    )
    const { bytes, encoding } = await memoryOf(sample)
    const label = `${fill === timelineCap ? `${fill} posts (cap)` : `${fill} posts`}${fill === typical ? ' — typical' : ''}${fill === 0 ? ' (sentinel only: built, empty)' : ''}`
    return { label, keys: n, encoding, memoryUsageBytes: bytes, usedMemoryBytesPerKey: perKey }
  } finally {
    await deletePrefix(keys.prefix)
  }
}

async function measurePostCache(): Promise<Row> {
  const keys = new Keys(`t:mem-${randomBytes(4).toString('hex')}`)
  const cache = new PostCache(redis, keys, activeWindowMs)
  const ids = postIds(smallCount, 7)
  const text = 'x'.repeat(textChars)
  try {
    const post = (i: number) => ({
      id: ids[i] as string,
      authorId: String(1_000_000 + i),
      text,
      createdAt: new Date().toISOString(),
    })
    const perKey = await measureDelta(smallCount, (i) => cache.putMany([post(i)]))
    const { bytes, encoding } = await memoryOf(ids.slice(0, 200).map((id) => keys.post(id)))
    return {
      label: `post cache entry (${textChars}-char text)`,
      keys: smallCount,
      encoding,
      memoryUsageBytes: bytes,
      usedMemoryBytesPerKey: perKey,
    }
  } finally {
    await deletePrefix(keys.prefix)
  }
}

async function measureAuthorSets(): Promise<Row> {
  const keys = new Keys(`t:mem-${randomBytes(4).toString('hex')}`)
  const store = new TimelineStore(redis, { keys, timelineCap, authorRecentCap: 200, activeWindowMs })
  const n = largeCount
  try {
    const perKey = await measureDelta(n, (i) => store.addToAuthor(String(1_000_000 + i), postIds(200, i)))
    const sample = Array.from({ length: n }, (_, i) => keys.authorPosts(String(1_000_000 + i)))
    const { bytes, encoding } = await memoryOf(sample)
    return {
      label: 'author recent set (200 posts, AUTHOR_RECENT_CAP)',
      keys: n,
      encoding,
      memoryUsageBytes: bytes,
      usedMemoryBytesPerKey: perKey,
    }
  } finally {
    await deletePrefix(keys.prefix)
  }
}

const perMillion = (bytes: number) => {
  const mb = (bytes * 1_000_000) / 2 ** 20
  return mb >= 1024 ? `${(mb / 1024).toFixed(1)} GB` : `${mb.toFixed(0)} MB`
}

const server = await info('server')
const memory = await info('memory')
const config = (await redis.config('GET', 'zset-max-listpack-entries')) as string[]
const maxMemory = Number(memory.get('maxmemory'))
console.log(
  `Redis ${server.get('redis_version')}, maxmemory ${maxMemory ? `${(maxMemory / 2 ** 20).toFixed(0)} MB` : 'none'}, ` +
    `zset-max-listpack-entries ${config[1] ?? '?'}, ${new Date().toISOString()}`,
)
console.log('')
console.log(
  '| what | keys measured | encoding | bytes/key (MEMORY USAGE) | bytes/key (used_memory Δ) | per 1M (used_memory Δ) |',
)
console.log('|---|---:|---|---:|---:|---:|')
const rows: Row[] = []
for (const fill of fills) rows.push(await measureTimelines(fill))
rows.push(await measurePostCache())
rows.push(await measureAuthorSets())
for (const r of rows) {
  console.log(
    `| ${r.label} | ${r.keys} | ${r.encoding} | ${r.memoryUsageBytes.toFixed(0)} | ${r.usedMemoryBytesPerKey.toFixed(0)} | ${perMillion(r.usedMemoryBytesPerKey)} |`,
  )
}
console.log('')
console.log(
  "Per 1M users: one home timeline each at that fill (the row's used_memory Δ × 1 000 000). Posts are stored once in the post cache, not per timeline: a timeline holds ids only.",
)
redis.disconnect()
