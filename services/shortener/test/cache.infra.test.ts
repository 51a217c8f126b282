import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import type pg from 'pg'
import { createLink, eventually, harness, type Instance } from './helpers.ts'

const lookups = (i: Instance) => i.metric('shortener_db_lookups_total')

/** Cache hits of one kind: `local` (per-process tier), `link`, `missing` or `stale` (Redis). */
const hitsOf = async (i: Instance, kind: string) =>
  (await i.shortener.metrics.cacheHits.get()).values.find((v) => v.labels.kind === kind)?.value ?? 0

/** The per-process tier off: every lookup asks Redis, which is what these tests are about. */
const redisOnly = { LOCAL_CACHE_TTL_MS: '0' }

test('cache-aside: the first redirect reads Postgres and fills Redis, the next ones hit', async (t) => {
  const h = await harness(t)
  const i = await h.instance({ env: redisOnly })
  const { body } = await createLink(i.app, { url: 'https://example.com/hot' })
  const code = body.code as string
  assert.equal(await lookups(i), 0)
  assert.equal((await i.app.inject({ url: `/${code}` })).statusCode, 302)
  assert.equal(await lookups(i), 1)
  for (let n = 0; n < 5; n++) assert.equal((await i.app.inject({ url: `/${code}` })).statusCode, 302)
  assert.equal(await lookups(i), 1, 'served from Redis')
  assert.equal(await i.metric('shortener_cache_hits_total'), 5)
  assert.equal(await i.metric('shortener_cache_misses_total'), 1)

  // The cached entry is where keys.ts says, with a TTL around CACHE_TTL_S (±jitter) + CACHE_STALE_S.
  const redis = new Redis(h.infra.urls.redisUrl)
  t.after(() => redis.disconnect())
  const key = i.shortener.keys.link(code)
  const ttlMs = await redis.pttl(key)
  assert.ok(ttlMs > 0.85 * 3_600_000 && ttlMs <= 1.1 * 3_600_000 + 60_000, `ttl ${ttlMs}`)
  assert.match((await redis.get(key)) ?? '', /"u":"https:\/\/example.com\/hot"/)
})

test('ttlJitter spreads the TTLs of keys filled together; off, they are identical', async (t) => {
  const h = await harness(t, { env: { CACHE_STALE_S: '0' } })
  const i = await h.instance()
  const ttls = Array.from({ length: 20 }, () => i.shortener.cache.ttlMs(3_600_000))
  assert.ok(new Set(ttls).size > 10)
  assert.ok(ttls.every((ms) => ms >= 0.9 * 3_600_000 && ms <= 1.1 * 3_600_000))
  i.shortener.mitigations.update({ ttlJitter: false })
  assert.deepEqual(
    new Set(Array.from({ length: 20 }, () => i.shortener.cache.ttlMs(3_600_000))),
    new Set([3_600_000]),
  )
})

test('negative cache: an unknown code reads Postgres once (on) or every time (off); creating it clears the marker', async (t) => {
  const h = await harness(t)
  const i = await h.instance()
  for (let n = 0; n < 4; n++) assert.equal((await i.app.inject({ url: '/not-yet' })).statusCode, 404)
  assert.equal(await lookups(i), 1)

  const created = await createLink(i.app, { url: 'https://example.com/now', alias: 'not-yet' })
  assert.equal(created.status, 201)
  assert.equal((await i.app.inject({ url: '/not-yet' })).statusCode, 302, 'no stale 404 after create')

  i.shortener.mitigations.update({ negativeCache: false })
  const before = await lookups(i)
  for (let n = 0; n < 4; n++) assert.equal((await i.app.inject({ url: '/never-made' })).statusCode, 404)
  assert.equal((await lookups(i)) - before, 4)
})

/**
 * Holds an ACCESS EXCLUSIVE lock on links, so every redirect-path read of Postgres waits: the
 * misses all overlap, deterministically, however fast the machine.
 */
async function lockLinks(db: pg.Pool, schema: string) {
  const client = await db.connect()
  await client.query('BEGIN')
  await client.query(`LOCK TABLE "${schema}".links IN ACCESS EXCLUSIVE MODE`)
  return async () => {
    await client.query('COMMIT')
    client.release()
  }
}

async function stampede(
  h: Awaited<ReturnType<typeof harness>>,
  instances: Instance[],
  code: string,
  perInstance: number,
) {
  const release = await lockLinks(h.db, h.schema)
  let responses: Array<{ statusCode: number }>
  try {
    const pending = instances.flatMap((i) =>
      Array.from({ length: perInstance }, () => i.app.inject({ url: `/${code}` })),
    )
    // Every request has missed the cache before Postgres is released.
    await eventually('all requests missed the cache', async () => {
      const misses = await Promise.all(instances.map((i) => i.metric('shortener_cache_misses_total')))
      return misses.reduce((a, b) => a + b, 0) >= instances.length * perInstance
    })
    await sleep(100)
    await release()
    responses = await Promise.all(pending)
  } catch (err) {
    await release().catch(() => {})
    throw err
  }
  assert.ok(
    responses.every((r) => r.statusCode === 302),
    'every request redirected',
  )
  const total = await Promise.all(instances.map(lookups))
  return total.reduce((a, b) => a + b, 0)
}

test('single-flight: 50 concurrent misses on one code → 1 Postgres read (on), 50 (off)', async (t) => {
  // coldPathLimit off so that, with single-flight off, nothing is shed: the stampede is the point.
  const h = await harness(t, { env: { MITIGATION_COLD_PATH_LIMIT: 'false', PG_POOL_MAX: '4' } })
  const seed = await h.instance()
  const { body } = await createLink(seed.app, { url: 'https://example.com/hot' })
  const code = body.code as string

  const on = await h.instance()
  assert.equal(await stampede(h, [on], code, 50), 1)
  assert.equal(await on.metric('shortener_fills_joined_total'), 49)

  const off = await h.instance({ env: { MITIGATION_SINGLE_FLIGHT: 'false' } })
  await off.shortener.cache.delete(code)
  assert.equal(await stampede(h, [off], code, 50), 50)
})

test('single-flight across instances: the Redis fill lease keeps it to one read for 3 instances', async (t) => {
  const h = await harness(t, { env: { MITIGATION_COLD_PATH_LIMIT: 'false', FILL_WAIT_MS: '10000' } })
  const seed = await h.instance()
  const { body } = await createLink(seed.app, { url: 'https://example.com/hot' })
  const instances = [await h.instance(), await h.instance(), await h.instance()]
  assert.equal(await stampede(h, instances, body.code as string, 20), 1)
})

test('fill lease: a waiter takes the lease over when the holder lets it go without filling', async (t) => {
  // FILL_WAIT_MS far beyond the test: the waiter reads Postgres because the lease was let go, not
  // because it stopped waiting.
  const h = await harness(t, { env: { FILL_WAIT_MS: '600000' } })
  const i = await h.instance()
  const { body } = await createLink(i.app, { url: 'https://example.com/lease' })
  const code = body.code as string
  const redis = new Redis(h.infra.urls.redisUrl)
  t.after(() => redis.disconnect())
  const leaseKey = i.shortener.keys.fillLease(code)
  await redis.set(leaseKey, 'another-instance', 'PX', 600_000)
  const pending = i.app.inject({ url: `/${code}` })
  await eventually('the redirect missed', async () => (await i.metric('shortener_cache_misses_total')) === 1)
  await sleep(100)
  assert.equal(await lookups(i), 0, 'waits for the leaseholder instead of reading Postgres')
  await redis.del(leaseKey) // the holder failed: no fill, lease gone
  assert.equal((await pending).statusCode, 302)
  assert.equal(await lookups(i), 1)
  assert.equal(await redis.exists(leaseKey), 0, 'released after the fill')
  assert.notEqual(await i.shortener.cache.get(code), undefined)
})

test('fill timeout: a fill past FILL_TIMEOUT_MS answers 503 and its late row is not cached', async (t) => {
  const h = await harness(t, { env: { FILL_TIMEOUT_MS: '200' } })
  const i = await h.instance()
  const { body } = await createLink(i.app, { url: 'https://example.com/late' })
  const code = body.code as string
  const release = await lockLinks(h.db, h.schema)
  let status: number
  try {
    status = (await i.app.inject({ url: `/${code}` })).statusCode
  } finally {
    await release()
  }
  assert.equal(status, 503)
  assert.equal(await i.metric('shortener_fill_timeouts_total'), 1)
  // The abandoned query runs to the end once the lock is gone; its row must not reach Redis.
  await eventually('the abandoned query finished', async () => i.pool.idleCount === i.pool.totalCount)
  await sleep(50)
  assert.equal(await i.shortener.cache.get(code), undefined)
  assert.equal(await lookups(i), 1)
  assert.equal((await i.app.inject({ url: `/${code}` })).statusCode, 302, 'the next redirect fills it')
  assert.equal(await lookups(i), 2)
})

test('stale-while-revalidate: past its soft TTL an entry is served at once and refreshed in the background (on), waits for Postgres (off)', async (t) => {
  const h = await harness(t, {
    env: { CACHE_TTL_S: '1', CACHE_STALE_S: '600', MITIGATION_TTL_JITTER: 'false' },
  })
  const i = await h.instance()
  const { body } = await createLink(i.app, { url: 'https://example.com/swr' })
  const code = body.code as string
  await i.app.inject({ url: `/${code}` })
  assert.equal(await lookups(i), 1)
  await sleep(1100) // past the 1 s soft TTL; the key itself lives 600 s more
  const release = await lockLinks(h.db, h.schema)
  try {
    // Postgres is locked, yet the stale entry answers at once; one background refresh waits.
    for (let n = 0; n < 10; n++) assert.equal((await i.app.inject({ url: `/${code}` })).statusCode, 302)
  } finally {
    await release()
  }
  await eventually('one background refresh', async () => (await lookups(i)) === 2)
  assert.equal(await i.metric('shortener_cache_hits_total'), 10)

  // Off: the same stale entry is a miss, and the redirect waits for Postgres.
  i.shortener.mitigations.update({ staleWhileRevalidate: false })
  await sleep(1100) // the refreshed entry is past its soft TTL again
  const relock = await lockLinks(h.db, h.schema)
  let settled = false
  const pending = i.app.inject({ url: `/${code}` }).finally(() => {
    settled = true
  })
  try {
    await eventually(
      'the stale entry missed',
      async () => (await i.metric('shortener_cache_misses_total')) === 2,
    )
    await sleep(100)
    // It cannot finish while links is locked, however fast the machine: it is waiting on the read.
    assert.equal(settled, false, 'a stale entry is not served with staleWhileRevalidate off')
  } finally {
    await relock()
  }
  assert.equal((await pending).statusCode, 302)
  assert.equal(await lookups(i), 3)
})

test('cold-path limit: past the bulkhead, misses are shed with a fast 503 instead of queueing', async (t) => {
  const h = await harness(t, {
    env: {
      COLD_PATH_CONCURRENCY: '2',
      COLD_PATH_QUEUE: '3',
      COLD_PATH_WAIT_MS: '60000',
      MITIGATION_NEGATIVE_CACHE: 'false',
    },
  })
  const i = await h.instance()
  const release = await lockLinks(h.db, h.schema)
  let statuses: number[]
  try {
    // 10 different unknown codes: single-flight cannot merge them.
    const pending = Array.from({ length: 10 }, (_, n) => i.app.inject({ url: `/cold-${n}` }))
    await eventually(
      '5 admitted or queued, 5 shed',
      async () => (await i.metric('shortener_cold_path_rejected_total')) === 5,
    )
    await release()
    statuses = (await Promise.all(pending)).map((r) => r.statusCode)
  } catch (err) {
    await release().catch(() => {})
    throw err
  }
  assert.equal(statuses.filter((s) => s === 503).length, 5)
  assert.equal(statuses.filter((s) => s === 404).length, 5)
  assert.equal(await lookups(i), 5)
})

test('a Redis outage turns into misses, not errors: redirects keep working from Postgres', async (t) => {
  const h = await harness(t)
  const i = await h.instance({ env: { REDIS_URL: 'redis://127.0.0.1:1', ...redisOnly }, waitForRedis: false })
  const created = await createLink(i.app, { url: 'https://example.com/no-cache' })
  assert.equal(created.status, 201)
  for (let n = 0; n < 3; n++)
    assert.equal((await i.app.inject({ url: `/${created.body.code}` })).statusCode, 302)
  assert.ok((await i.metric('shortener_cache_errors_total')) >= 3)
})

/**
 * Replaces `Date` with a clock that moves only when the test calls `t.mock.timers.tick(ms)`;
 * timers stay real. A per-process TTL or a link's expiry then passes exactly where the test says,
 * never early because a busy 2-core machine spent the window between two requests. Call it before
 * `h.instance()`: the shortener's objects keep the `Date.now` they were built with.
 */
function controlledClock(t: TestContext): void {
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() })
}

test('the per-process tier: a link seen in the last LOCAL_CACHE_TTL_MS is served without Redis, then Redis is asked again', async (t) => {
  const h = await harness(t)
  controlledClock(t)
  const i = await h.instance({ env: { LOCAL_CACHE_TTL_MS: '400' } })
  const code = (await createLink(i.app, { url: 'https://example.com/local' })).body.code as string
  const redis = new Redis(h.infra.urls.redisUrl)
  t.after(() => redis.disconnect())
  const hits = (kind: string) => hitsOf(i, kind)

  assert.equal((await i.app.inject({ url: `/${code}` })).statusCode, 302) // miss: Postgres, fills both tiers
  // Redis loses the entry (a flush, an eviction): this process does not notice within the TTL.
  await redis.del(i.shortener.keys.link(code))
  for (let n = 0; n < 5; n++) assert.equal((await i.app.inject({ url: `/${code}` })).statusCode, 302)
  assert.equal(await hits('local'), 5)
  assert.equal(await lookups(i), 1)
  // Past the TTL it asks Redis again: a miss there, so Postgres, which refills Redis.
  t.mock.timers.tick(400)
  assert.equal((await i.app.inject({ url: `/${code}` })).statusCode, 302)
  assert.equal(await lookups(i), 2)
  assert.ok(await redis.exists(i.shortener.keys.link(code)), 'Redis refilled')
  // Unknown codes are never kept in memory: each one asks Redis (negative marker), never 'local'.
  for (let n = 0; n < 3; n++) assert.equal((await i.app.inject({ url: '/nope-local' })).statusCode, 404)
  assert.equal(await hits('local'), 5)
  assert.equal(await hits('missing'), 2)
})

test("the per-process tier keeps the link's expiry: an expired link answers 410 even from memory", async (t) => {
  const h = await harness(t)
  controlledClock(t)
  const i = await h.instance({ env: { LOCAL_CACHE_TTL_MS: '60000' } })
  const expiresAt = new Date(Date.now() + 600).toISOString()
  const created = await createLink(i.app, { url: 'https://example.com/soon', expiresAt })
  assert.equal(created.status, 201, JSON.stringify(created.body))
  const code = created.body.code as string
  assert.equal((await i.app.inject({ url: `/${code}` })).statusCode, 302)
  assert.equal((await i.app.inject({ url: `/${code}` })).statusCode, 302)
  assert.equal(await hitsOf(i, 'local'), 1, 'the second redirect came from memory')
  t.mock.timers.tick(600)
  assert.equal((await i.app.inject({ url: `/${code}` })).statusCode, 410)
  assert.equal(await hitsOf(i, 'local'), 2, 'the 410 came from memory too')
})
