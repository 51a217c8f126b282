/**
 * The read path on real Postgres (primary + streaming replica) and Redis: rebuild of a cold
 * timeline, pagination, deleted posts, the celebrity merge, and the pm02 switches (single-flight,
 * admission, naive). No fan-out worker runs here: timelines get ids from rebuilds, or from the
 * test calling the TimelineStore the way the worker does, so each assertion is about the reader.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import {
  createPost,
  deletePost,
  type FeedHarness,
  feedHarness,
  readTimeline,
  type TestApp,
} from './helpers.ts'

// ── Seeding straight into the test schema ───────────────────────────────────

let handleSeq = 0

/** Up to six users, typed as a tuple so tests destructure them without undefined checks. */
type Six = [string, string, string, string, string, string]

async function seedUsers(db: pg.Pool, n: 1 | 2 | 3 | 4 | 5 | 6): Promise<Six> {
  const handles = Array.from(
    { length: n },
    () => `r${process.pid}_${++handleSeq}_${Math.random().toString(36).slice(2, 8)}`,
  )
  const { rows } = await db.query<{ id: string }>(
    'INSERT INTO users (handle) SELECT unnest($1::text[]) RETURNING id::text AS id',
    [handles],
  )
  assert.equal(rows.length, n)
  return rows.map((r) => r.id) as Six
}

/** Follows in one statement, follower_count kept as the API keeps it. */
async function seedFollows(db: pg.Pool, pairs: Array<[follower: string, followee: string]>): Promise<void> {
  await db.query(
    `WITH f AS (
       INSERT INTO follows (follower_id, followee_id)
       SELECT * FROM unnest($1::bigint[], $2::bigint[]) RETURNING followee_id)
     UPDATE users u SET follower_count = follower_count + c.n
     FROM (SELECT followee_id, count(*)::int AS n FROM f GROUP BY followee_id) c WHERE u.id = c.followee_id`,
    [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
  )
}

/** `n` posts by `author`, one statement, ids from post_id_at like the API's (oldest first). */
async function seedPosts(db: pg.Pool, author: string, n: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO posts (id, author_id, text, created_at)
     SELECT post_id_at(t), $1, 'post ' || i, date_trunc('milliseconds', t)
     FROM generate_series(1, $2) i, LATERAL (SELECT clock_timestamp() AS t) c
     RETURNING id::text AS id`,
    [author, n],
  )
  return rows.map((r) => r.id).sort(byIdAsc)
}

function byIdAsc(a: string, b: string): number {
  return Number(BigInt(a) - BigInt(b))
}

/** The timeline computed from Postgres alone: what a rebuild must produce. */
async function expectedTimeline(db: pg.Pool, userId: string, cap: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id::text AS id FROM posts
     WHERE deleted_at IS NULL
       AND (author_id = $1 OR author_id IN (SELECT followee_id FROM follows WHERE follower_id = $1))
     ORDER BY id DESC LIMIT $2`,
    [userId, cap],
  )
  return rows.map((r) => r.id)
}

/** Every page of a timeline through the API, following nextCursor. */
async function readAll(app: TestApp['app'], userId: string, limit: number): Promise<string[]> {
  const ids: string[] = []
  let cursor: string | undefined
  for (let page = 0; page < 1000; page++) {
    const res = await readTimeline(app, userId, cursor === undefined ? { limit } : { limit, cursor })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    ids.push(...res.body.items.map((p) => p.id))
    if (res.body.nextCursor === null) return ids
    cursor = res.body.nextCursor
  }
  throw new Error('pagination did not end')
}

/** Waits until the replica has replayed everything the primary had committed when called. */
async function replicaCaughtUp(h: FeedHarness, replica: pg.Pool): Promise<void> {
  const { rows } = await h.db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')
  for (let i = 0; i < 200; i++) {
    const r = await replica.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [
      rows[0]?.lsn,
    ])
    if (r.rows[0]?.ok) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error('replica did not catch up')
}

// ── Tests ───────────────────────────────────────────────────────────────────

test('a cold timeline is rebuilt from Postgres: followees and own posts, deleted excluded, capped', async (t) => {
  const h = await feedHarness(t, { env: { TIMELINE_CAP: '25' } })
  const api = await h.buildTestApp()
  const [reader, a, b, stranger] = await seedUsers(h.db, 4)
  await seedFollows(h.db, [
    [reader, a],
    [reader, b],
  ])
  await seedPosts(h.db, a, 12)
  await seedPosts(h.db, stranger, 5)
  const own = await seedPosts(h.db, reader, 4)
  const bPosts = await seedPosts(h.db, b, 12)
  await h.db.query('UPDATE posts SET deleted_at = now() WHERE id = ANY($1::bigint[])', [[bPosts[11], own[0]]])
  await replicaCaughtUp(h, api.replica)

  const expected = await expectedTimeline(h.db, reader, 25)
  assert.equal(expected.length, 25, 'more posts than the cap, so the cap is exercised')
  assert.deepEqual(await readAll(api.app, reader, 7), expected)
  const stored = await h.redis.zrevrangebyscore(h.keys.timeline(reader), '+inf', '(0')
  assert.deepEqual(stored, expected, 'the rebuilt timeline in Redis is the Postgres one')
  assert.equal(await api.metric('feed_rebuild_queries_total'), 1)
  assert.equal(await api.metric('feed_timeline_reads_total', { result: 'rebuilt' }), 1)
  assert.equal(await api.metric('feed_rebuilds_total', { outcome: 'done' }), 1)
})

test('pages stay stable while newer posts arrive: no item repeated, none skipped', async (t) => {
  const h = await feedHarness(t)
  const api = await h.buildTestApp()
  const [reader, author] = await seedUsers(h.db, 2)
  await seedFollows(h.db, [[reader, author]])
  const before = await seedPosts(h.db, author, 40)
  await replicaCaughtUp(h, api.replica)
  assert.equal((await readTimeline(api.app, reader, { limit: 1 })).status, 200) // builds the timeline
  // The reader's own post: in their timeline (the worker pushes to the author too) and in the
  // read-your-writes query at once, so the merge must still return it once.
  const mine = await createPost(api.app, reader, 'mine')
  await api.feed.store.pushToActive([reader], mine.authorId, mine.id, 10)
  before.push(mine.id)

  // Page through while the author keeps posting and each new post is fanned out to the reader.
  let posting = true
  const newer: string[] = []
  const writer = (async () => {
    while (posting && newer.length < 200) {
      const by = newer.length % 3 === 2 ? reader : author
      const post = await createPost(api.app, by, `new ${newer.length}`)
      await api.feed.store.pushToActive([reader], post.authorId, post.id, 10)
      newer.push(post.id)
    }
  })()
  const seen: string[] = []
  let cursor: string | undefined
  try {
    for (let page = 0; page < 100; page++) {
      const res = await readTimeline(
        api.app,
        reader,
        cursor === undefined ? { limit: 6 } : { limit: 6, cursor },
      )
      assert.equal(res.status, 200)
      seen.push(...res.body.items.map((p) => p.id))
      if (res.body.nextCursor === null) break
      cursor = res.body.nextCursor
    }
  } finally {
    posting = false
    await writer
  }
  assert.ok(newer.length >= 3, `posts were created while paging (${newer.length})`)
  assert.equal(new Set(seen).size, seen.length, 'no post appears twice')
  const older = seen.filter((id) => !newer.includes(id))
  assert.deepEqual(older, [...before].reverse(), 'every post that existed before is seen once, in order')
  assert.deepEqual(seen, [...seen].sort(byIdAsc).reverse(), 'newest first across pages')
})

test('deleted posts are dropped and the page is topped up to the limit', async (t) => {
  const h = await feedHarness(t)
  const api = await h.buildTestApp()
  const [reader, author] = await seedUsers(h.db, 2)
  await seedFollows(h.db, [[reader, author]])
  const posts = await seedPosts(h.db, author, 12)
  await replicaCaughtUp(h, api.replica)
  const first = await readTimeline(api.app, reader, { limit: 5 })
  assert.deepEqual(
    first.body.items.map((p) => p.id),
    posts.slice(-5).reverse(),
  )

  // The timeline still holds these ids (no worker removes them here): one deleted through the API
  // (a tombstone in the cache), two in Postgres only (the cache is cold for them).
  const newest = [...posts].reverse()
  await deletePost(api.app, newest[0] as string)
  await h.redis.del(h.keys.post(newest[1] as string), h.keys.post(newest[3] as string))
  await h.db.query('UPDATE posts SET deleted_at = now() WHERE id = ANY($1::bigint[])', [
    [newest[1], newest[3]],
  ])
  await replicaCaughtUp(h, api.replica)

  const page = await readTimeline(api.app, reader, { limit: 5 })
  const live = newest.filter((_, i) => i !== 0 && i !== 1 && i !== 3)
  assert.deepEqual(
    page.body.items.map((p) => p.id),
    live.slice(0, 5),
  )
  assert.equal(page.body.nextCursor, live[4])
  assert.deepEqual(await readAll(api.app, reader, 4), live)
  assert.equal(
    await h.redis.get(h.keys.post(newest[1] as string)),
    '{"deleted":true}',
    'tombstone written back',
  )
})

test('celebrities are merged at read time, from their recent set or Postgres when it is missing', async (t) => {
  const h = await feedHarness(t, { env: { FANOUT_CELEBRITY_THRESHOLD: '3' } })
  const api = await h.buildTestApp()
  const [reader, celebrity, regular, f2, f3] = await seedUsers(h.db, 5)
  await seedFollows(h.db, [
    [reader, celebrity],
    [reader, regular],
    [f2, celebrity],
    [f3, celebrity],
  ])
  const celebrityPosts = await seedPosts(h.db, celebrity, 6)
  const regularPosts = await seedPosts(h.db, regular, 6)
  await replicaCaughtUp(h, api.replica)

  const all = [...celebrityPosts, ...regularPosts].sort(byIdAsc).reverse()
  assert.deepEqual(await readAll(api.app, reader, 4), all)
  const stored = await h.redis.zrevrangebyscore(h.keys.timeline(reader), '+inf', '(0')
  assert.deepEqual(stored, [...regularPosts].reverse(), "the rebuild left the celebrity's posts out")
  assert.deepEqual(
    await h.redis.zrevrangebyscore(h.keys.authorPosts(celebrity), '+inf', '-inf'),
    [...[...celebrityPosts].reverse(), '0'],
    "the celebrity's recent set was filled from Postgres and marked complete (the sentinel)",
  )

  // A new celebrity post reaches the reader through the recent set only (the worker does not push it).
  const fresh = await createPost(api.app, celebrity, 'to many')
  const page = await readTimeline(api.app, reader, { limit: 1 })
  assert.deepEqual(
    page.body.items.map((p) => p.id),
    [fresh.id],
  )

  // With hybridFanout off the same reader gets only what was pushed (naive pushes everything).
  const naive = await h.buildTestApp({ mitigations: { hybridFanout: false } })
  const naivePage = await readTimeline(naive.app, reader, { limit: 1 })
  assert.deepEqual(
    naivePage.body.items.map((p) => p.id),
    [regularPosts.at(-1)],
  )
})

test('rebuildSingleFlight: concurrent cold reads on two instances cost one rebuild query', async (t) => {
  const h = await feedHarness(t)
  const one = await h.buildTestApp()
  const two = await h.buildTestApp()
  const [reader, author] = await seedUsers(h.db, 2)
  await seedFollows(h.db, [[reader, author]])
  const posts = await seedPosts(h.db, author, 10)
  await replicaCaughtUp(h, one.replica)

  const reads = [one, two].flatMap((api) =>
    Array.from({ length: 8 }, () => api.feed.reader.read(reader, { limit: 3 })),
  )
  const pages = await Promise.all(reads)
  for (const page of pages) {
    assert.deepEqual(
      page?.items.map((p) => p.id),
      posts.slice(-3).reverse(),
    )
  }
  const queries =
    (await one.metric('feed_rebuild_queries_total')) + (await two.metric('feed_rebuild_queries_total'))
  assert.equal(queries, 1)
})

test('rebuild lease: while one instance rebuilds, another waits for its timeline instead of querying', async (t) => {
  // The replica is the primary here, so one lock holds the first instance's rebuild query.
  const h = await feedHarness(t, { env: { REBUILD_WAIT_MS: '10000' } })
  const env = { DATABASE_REPLICA_URL: h.env.DATABASE_URL as string }
  const one = await h.buildTestApp({ env })
  const two = await h.buildTestApp({ env })
  const [reader, author] = await seedUsers(h.db, 2)
  await seedFollows(h.db, [[reader, author]])
  const posts = await seedPosts(h.db, author, 4)

  const locker = await h.db.connect()
  let pages: Array<Awaited<ReturnType<typeof readTimeline>>>
  try {
    await locker.query('BEGIN')
    await locker.query('LOCK TABLE posts IN ACCESS EXCLUSIVE MODE')
    const first = readTimeline(one.app, reader)
    await waitFor(() => one.feed.reader.rebuilder.admission.active === 1)
    const second = readTimeline(two.app, reader)
    // Let the second read reach its wait on the lease before the first rebuild can finish.
    await new Promise((resolve) => setTimeout(resolve, 200))
    await locker.query('ROLLBACK')
    pages = await Promise.all([first, second])
  } finally {
    await locker.query('ROLLBACK').catch(() => {})
    locker.release()
  }
  for (const page of pages) {
    assert.equal(page.status, 200)
    assert.deepEqual(
      page.body.items.map((p) => p.id),
      [...posts].reverse(),
    )
  }
  assert.equal(await one.metric('feed_rebuild_queries_total'), 1)
  assert.equal(
    await two.metric('feed_rebuild_queries_total'),
    0,
    'the waiting instance sent no rebuild query',
  )
  assert.equal(await two.metric('feed_rebuilds_total', { outcome: 'shared' }), 1)
})

test('naive (single-flight and admission off): every concurrent cold read queries Postgres itself', async (t) => {
  const h = await feedHarness(t)
  const api = await h.buildTestApp({ mitigations: { rebuildSingleFlight: false, rebuildAdmission: false } })
  const [reader, author] = await seedUsers(h.db, 2)
  await seedFollows(h.db, [[reader, author]])
  const posts = await seedPosts(h.db, author, 10)
  await replicaCaughtUp(h, api.replica)

  const pages = await Promise.all(Array.from({ length: 8 }, () => api.feed.reader.read(reader, { limit: 3 })))
  for (const page of pages) {
    assert.deepEqual(
      page?.items.map((p) => p.id),
      posts.slice(-3).reverse(),
    )
  }
  assert.equal(await api.metric('feed_rebuild_queries_total'), 8)
})

test('rebuildAdmission: past REBUILD_CONCURRENCY + REBUILD_QUEUE a cold read answers 206, then recovers', async (t) => {
  // The replica is the primary here, so one lock holds every rebuild query where it is.
  const h = await feedHarness(t, {
    env: { REBUILD_CONCURRENCY: '1', REBUILD_QUEUE: '0', REBUILD_WAIT_MS: '200' },
  })
  const api = await h.buildTestApp({ env: { DATABASE_REPLICA_URL: h.env.DATABASE_URL as string } })
  const [first, second, author] = await seedUsers(h.db, 3)
  await seedFollows(h.db, [
    [first, author],
    [second, author],
  ])
  const posts = await seedPosts(h.db, author, 3)

  const locker = await h.db.connect()
  let firstRead: ReturnType<typeof readTimeline> | undefined
  try {
    await locker.query('BEGIN')
    await locker.query('LOCK TABLE posts IN ACCESS EXCLUSIVE MODE')
    firstRead = readTimeline(api.app, first) // takes the only slot, then blocks on the lock
    await waitFor(() => api.feed.reader.rebuilder.admission.active === 1)
    const res = await api.app.inject({ method: 'GET', url: `/api/users/${second}/timeline` })
    assert.equal(res.statusCode, 206)
    assert.equal(res.headers['retry-after'], '1')
    assert.deepEqual(res.json(), { items: [], nextCursor: null, rebuilding: true })
    const waited = await firstRead
    assert.equal(waited.status, 206, 'the read past REBUILD_WAIT_MS answers 206 too')
  } finally {
    await locker.query('ROLLBACK')
    locker.release()
  }
  assert.equal(
    await api.metric('feed_rebuilds_total', { outcome: 'rejected' }),
    1,
    'the second read was turned away',
  )
  assert.equal(await api.metric('feed_timeline_reads_total', { result: 'rebuilding' }), 2)

  // The admitted rebuild finishes once the lock is gone and serves the retry; the rejected one reruns.
  await waitFor(() => api.feed.reader.rebuilder.admission.active === 0)
  for (const user of [first, second]) {
    const again = await readTimeline(api.app, user)
    assert.equal(again.status, 200)
    assert.deepEqual(
      again.body.items.map((p) => p.id),
      [...posts].reverse(),
    )
  }
})

test("an admitted rebuild is not cancelled at the read path's statement timeout; a naive one is", async (t) => {
  // The replica is the primary here, so a lock on posts holds the rebuild query for 600 ms: four
  // times PG_STATEMENT_TIMEOUT_MS, well inside REBUILD_STATEMENT_TIMEOUT_MS.
  const h = await feedHarness(t, {
    env: { PG_STATEMENT_TIMEOUT_MS: '150', REBUILD_WAIT_MS: '100', REBUILD_STATEMENT_TIMEOUT_MS: '5000' },
  })
  const env = { DATABASE_REPLICA_URL: h.env.DATABASE_URL as string }
  const hardened = await h.buildTestApp({ env })
  const naive = await h.buildTestApp({
    env,
    mitigations: { rebuildSingleFlight: false, rebuildAdmission: false },
  })
  const [one, two, author] = await seedUsers(h.db, 3)
  await seedFollows(h.db, [
    [one, author],
    [two, author],
  ])
  const posts = await seedPosts(h.db, author, 3)

  const locker = await h.db.connect()
  try {
    await locker.query('BEGIN')
    await locker.query('LOCK TABLE posts IN ACCESS EXCLUSIVE MODE')
    const hardenedRead = readTimeline(hardened.app, one)
    const naiveRead = naive.app.inject({ method: 'GET', url: `/api/users/${two}/timeline` })
    await sleep(600)
    await locker.query('ROLLBACK')
    assert.equal((await hardenedRead).status, 206, 'the read gave up after REBUILD_WAIT_MS')
    assert.equal((await naiveRead).statusCode, 503, 'the naive rebuild was cancelled at 150 ms')
  } finally {
    locker.release()
  }
  await waitFor(() => hardened.feed.reader.rebuilder.admission.active === 0)
  assert.equal(
    await hardened.metric('feed_rebuilds_total', { outcome: 'done' }),
    1,
    'the lock wait was survived',
  )
  assert.equal(await hardened.metric('feed_rebuilds_total', { outcome: 'failed' }), 0)
  const again = await readTimeline(hardened.app, one)
  assert.equal(again.status, 200)
  assert.deepEqual(
    again.body.items.map((p) => p.id),
    [...posts].reverse(),
  )
  assert.equal(await hardened.metric('feed_rebuild_queries_total'), 1, 'the retry used the rebuilt timeline')
  assert.equal(await naive.metric('feed_rebuilds_total', { outcome: 'failed' }), 1)
})

test('the route: 404 for unknown or malformed users, 400 naming query.limit and query.cursor', async (t) => {
  const h = await feedHarness(t, { env: { TIMELINE_PAGE_MAX: '50' } })
  const api = await h.buildTestApp()
  const [reader] = await seedUsers(h.db, 1)
  await replicaCaughtUp(h, api.replica)
  const get = (url: string) => api.app.inject({ method: 'GET', url })
  for (const id of ['999999999', 'abc', '0', '-1', '12345678901234567890']) {
    const res = await get(`/api/users/${id}/timeline`)
    assert.equal(res.statusCode, 404, id)
    assert.equal(res.json().code, 'FEED_ERR_USER_NOT_FOUND')
  }
  assert.equal(
    await h.redis.exists(h.keys.timeline('999999999')),
    0,
    'an unknown user leaves no timeline behind',
  )
  for (const limit of ['0', '51', 'x', '1.5', '-3', '']) {
    const res = await get(`/api/users/${reader}/timeline?limit=${limit}`)
    assert.equal(res.statusCode, 400, `limit=${limit}`)
    assert.equal(res.json().field, 'query.limit')
  }
  for (const cursor of ['abc', '0', '1e9', '99999999999999999999']) {
    const res = await get(`/api/users/${reader}/timeline?cursor=${cursor}`)
    assert.equal(res.statusCode, 400, `cursor=${cursor}`)
    assert.equal(res.json().field, 'query.cursor')
  }
  const ok = await get(`/api/users/${reader}/timeline?limit=50`)
  assert.equal(ok.statusCode, 200)
  assert.deepEqual(ok.json(), { items: [], nextCursor: null })
})

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.ok(condition(), 'condition not reached')
}
