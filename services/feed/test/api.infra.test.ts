/**
 * The API's write side on real Postgres (primary) and Redis: every route, validation (400 naming
 * the field), 404s, idempotency, the outbox written in the post's transaction, follower_count, and
 * the after-commit effects in Redis (post cache, author set, follow merge / unfollow removal,
 * followed-celebrities invalidation, session LSN).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { operationsOf } from '@faultline/kit/openapi'
import { postIdTimeMs } from '../src/ids.ts'
import { TIMELINE_SENTINEL } from '../src/keys.ts'
import type { PostEvent } from '../src/types.ts'
import {
  buildTestApp,
  createPost,
  createUser,
  deletePost,
  type FeedHarness,
  follow,
  readTimeline,
  unfollow,
  uniqueHandle,
} from './helpers.ts'

type OutboxRow = { id: string; key: string; payload: PostEvent }

async function outbox(h: FeedHarness): Promise<OutboxRow[]> {
  const { rows } = await h.db.query<OutboxRow>('SELECT id::text, key, payload FROM outbox ORDER BY id')
  return rows
}

async function followerCount(h: FeedHarness, userId: string): Promise<number> {
  const { rows } = await h.db.query<{ n: number }>('SELECT follower_count AS n FROM users WHERE id = $1', [
    userId,
  ])
  return rows[0]?.n ?? -1
}

/** The post ids in a user's timeline (sentinel excluded), newest first; null when it does not exist. */
async function timelineIds(h: FeedHarness, userId: string): Promise<string[] | null> {
  const key = h.keys.timeline(userId)
  if ((await h.redis.exists(key)) === 0) return null
  return (await h.redis.zrevrange(key, '0', '-1')).filter((id) => id !== TIMELINE_SENTINEL)
}

test('POST /api/users creates a user with an empty, built timeline; handles are unique and validated', async (t) => {
  const { app, harness: h, metric } = await buildTestApp(t)
  const handle = uniqueHandle()
  const res = await app.inject({ method: 'POST', url: '/api/users', payload: { handle } })
  assert.equal(res.statusCode, 201)
  const user = res.json()
  assert.deepEqual(Object.keys(user).sort(), ['handle', 'id'])
  assert.equal(user.handle, handle)
  assert.match(user.id, /^[1-9][0-9]*$/)
  assert.deepEqual(await timelineIds(h, user.id), [], 'the new user has a built, empty timeline')
  assert.ok(
    (await h.redis.pttl(h.keys.timeline(user.id))) > 0,
    'the timeline expires after the active window',
  )

  const taken = await app.inject({ method: 'POST', url: '/api/users', payload: { handle } })
  assert.equal(taken.statusCode, 409)
  assert.equal(taken.json().code, 'FEED_ERR_HANDLE_TAKEN')
  assert.equal(taken.json().field, 'body.handle')

  for (const payload of [
    {},
    { handle: '' },
    { handle: 'has space' },
    { handle: 'é' },
    { handle: 'a'.repeat(31) },
    { handle: 42 },
    { handle: null },
  ]) {
    const bad = await app.inject({ method: 'POST', url: '/api/users', payload })
    assert.equal(bad.statusCode, 400, JSON.stringify(payload))
    assert.equal(bad.json().field, 'body.handle', JSON.stringify(payload))
  }
  const extra = await app.inject({
    method: 'POST',
    url: '/api/users',
    payload: { handle: uniqueHandle(), x: 1 },
  })
  assert.equal(extra.statusCode, 400)
  const notJson = await app.inject({
    method: 'POST',
    url: '/api/users',
    headers: { 'content-type': 'text/plain' },
    payload: 'handle=x',
  })
  assert.equal(notJson.statusCode, 415)
  const longest = await app.inject({
    method: 'POST',
    url: '/api/users',
    payload: { handle: 'A_9'.repeat(10) },
  })
  assert.equal(longest.statusCode, 201, '30 characters is allowed')

  const { rows } = await h.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users')
  assert.equal(rows[0]?.n, 2)
  assert.equal(await metric('feed_writes_total', { op: 'create_user', outcome: 'done' }), 2)
  assert.equal(await metric('feed_writes_total', { op: 'create_user', outcome: 'conflict' }), 1)
})

test('follow and unfollow are idempotent, keep follower_count, and 404/400 name the field', async (t) => {
  const { app, harness: h, metric } = await buildTestApp(t)
  const alice = await createUser(app)
  const bob = await createUser(app)
  const url = `/api/users/${alice.id}/follows/${bob.id}`

  // Concurrent repeats: one edge, counted once.
  const puts = await Promise.all(Array.from({ length: 8 }, () => app.inject({ method: 'PUT', url })))
  assert.deepEqual(
    puts.map((r) => r.statusCode),
    Array(8).fill(204),
  )
  assert.equal(puts[0]?.body, '')
  assert.equal(await followerCount(h, bob.id), 1)
  assert.equal(await followerCount(h, alice.id), 0)
  const { rows: edges } = await h.db.query('SELECT follower_id::text, followee_id::text FROM follows')
  assert.deepEqual(edges, [{ follower_id: alice.id, followee_id: bob.id }])
  assert.equal(await metric('feed_writes_total', { op: 'follow', outcome: 'done' }), 1)
  assert.equal(await metric('feed_writes_total', { op: 'follow', outcome: 'noop' }), 7)

  const dels = await Promise.all(Array.from({ length: 4 }, () => app.inject({ method: 'DELETE', url })))
  assert.deepEqual(
    dels.map((r) => r.statusCode),
    Array(4).fill(204),
  )
  assert.equal(await followerCount(h, bob.id), 0)
  assert.equal((await h.db.query('SELECT 1 FROM follows')).rowCount, 0)
  await follow(app, alice.id, bob.id)
  await follow(app, bob.id, alice.id)
  assert.equal(await followerCount(h, bob.id), 1)
  assert.equal(await followerCount(h, alice.id), 1)

  const missing = String(Number(bob.id) + 1000)
  for (const method of ['PUT', 'DELETE'] as const) {
    const cases: Array<[string, number, string]> = [
      [`/api/users/${missing}/follows/${bob.id}`, 404, 'params.id'],
      [`/api/users/${alice.id}/follows/${missing}`, 404, 'params.targetId'],
      [`/api/users/abc/follows/${bob.id}`, 404, 'params.id'],
      [`/api/users/${alice.id}/follows/0`, 404, 'params.targetId'],
      [`/api/users/${alice.id}/follows/99999999999999999999`, 404, 'params.targetId'],
      [`/api/users/${alice.id}/follows/-1`, 404, 'params.targetId'],
      [`/api/users/${alice.id}/follows/${alice.id}`, 400, 'params.targetId'],
    ]
    for (const [path, status, field] of cases) {
      const res = await app.inject({ method, url: path })
      assert.equal(res.statusCode, status, `${method} ${path}`)
      assert.equal(res.json().field, field, `${method} ${path}`)
    }
  }
  assert.equal(await followerCount(h, bob.id), 1, 'failed requests changed nothing')
})

test('a follow merges the target’s posts into the timeline, an unfollow takes them out', async (t) => {
  const { app, harness: h } = await buildTestApp(t)
  const alice = await createUser(app)
  const bob = await createUser(app)
  const carol = await createUser(app)
  const bobPosts = [await createPost(app, bob.id, 'one'), await createPost(app, bob.id, 'two')]
  const gone = await createPost(app, bob.id, 'deleted before the follow')
  await deletePost(app, gone.id)
  const carolPost = await createPost(app, carol.id, 'carol')
  await follow(app, alice.id, carol.id)
  await h.redis.set(h.keys.followedCelebrities(alice.id), '[]')

  await follow(app, alice.id, bob.id)
  assert.deepEqual(
    await timelineIds(h, alice.id),
    [bobPosts[1]?.id, bobPosts[0]?.id, carolPost.id].sort((a, b) => Number(b) - Number(a)),
    'bob’s live posts merged in, the deleted one not',
  )
  assert.equal(await h.redis.exists(h.keys.followedCelebrities(alice.id)), 0, 'celebrity list invalidated')
  assert.notEqual(await h.redis.get(h.keys.sessionLsn(alice.id)), null, 'the follower’s commit is recorded')

  await h.redis.set(h.keys.followedCelebrities(alice.id), '[]')
  await unfollow(app, alice.id, bob.id)
  assert.deepEqual(await timelineIds(h, alice.id), [carolPost.id], 'only bob’s posts are taken out')
  assert.equal(await h.redis.exists(h.keys.followedCelebrities(alice.id)), 0)

  // A follower without a timeline (inactive) is not given one: the read rebuilds it.
  await h.redis.del(h.keys.timeline(alice.id))
  await follow(app, alice.id, bob.id)
  assert.equal(await timelineIds(h, alice.id), null)
})

test('with hybridFanout, following a celebrity merges nothing (read-time merge); without, it merges', async (t) => {
  for (const hybridFanout of [true, false]) {
    const { app, harness: h } = await buildTestApp(t, {
      env: { FANOUT_CELEBRITY_THRESHOLD: '2' },
      mitigations: { hybridFanout },
    })
    const [star, fan1, fan2] = [await createUser(app), await createUser(app), await createUser(app)]
    const post = await createPost(app, star.id, 'famous')
    await follow(app, fan1.id, star.id) // 1 follower: below the threshold, merged either way
    await follow(app, fan2.id, star.id) // 2 followers: a celebrity now
    assert.deepEqual(await timelineIds(h, fan1.id), [post.id], `hybridFanout=${hybridFanout}`)
    assert.deepEqual(
      await timelineIds(h, fan2.id),
      hybridFanout ? [] : [post.id],
      `hybridFanout=${hybridFanout}`,
    )
    // The unfollow removes the celebrity's posts whatever the mode (they may have been pushed earlier).
    await unfollow(app, fan1.id, star.id)
    assert.deepEqual(await timelineIds(h, fan1.id), [])
  }
})

test('POST /api/users/:id/posts commits the post and its outbox event together, then fills the caches', async (t) => {
  const { app, harness: h, metric } = await buildTestApp(t, { env: { POST_TEXT_MAX: '10' } })
  const alice = await createUser(app)
  const before = Date.now()
  const res = await app.inject({
    method: 'POST',
    url: `/api/users/${alice.id}/posts`,
    payload: { text: 'héllo 👋' },
  })
  assert.equal(res.statusCode, 201)
  const post = res.json()
  assert.deepEqual(Object.keys(post).sort(), ['authorId', 'createdAt', 'id', 'text'])
  assert.equal(post.authorId, alice.id)
  assert.equal(post.text, 'héllo 👋')
  assert.match(post.id, /^[1-9][0-9]*$/)
  assert.equal(postIdTimeMs(post.id), Date.parse(post.createdAt), 'the id carries the created_at millisecond')
  assert.ok(Math.abs(Date.parse(post.createdAt) - before) < 60_000)

  const rows = await outbox(h)
  assert.equal(rows.length, 1)
  assert.equal(rows[0]?.key, alice.id)
  assert.deepEqual(rows[0]?.payload, {
    type: 'post_created',
    outboxId: rows[0]?.id,
    postId: post.id,
    authorId: alice.id,
    createdAtMs: Date.parse(post.createdAt),
  })
  assert.deepEqual(JSON.parse((await h.redis.get(h.keys.post(post.id))) ?? 'null'), post, 'post cached')
  assert.deepEqual(await h.redis.zrange(h.keys.authorPosts(alice.id), '0', '-1'), [post.id], 'author set')
  assert.notEqual(await h.redis.get(h.keys.sessionLsn(alice.id)), null, 'session LSN recorded')

  const second = await createPost(app, alice.id, 'x'.repeat(10))
  assert.ok(Number(second.id) > Number(post.id), 'ids increase')
  assert.deepEqual(
    (await outbox(h)).map((r) => r.payload.postId),
    [post.id, second.id],
  )

  for (const payload of [
    {},
    { text: '' },
    { text: '   \n\t' },
    { text: 'x'.repeat(11) },
    { text: 5 },
    { text: 'ok', y: 1 },
  ]) {
    const bad = await app.inject({ method: 'POST', url: `/api/users/${alice.id}/posts`, payload })
    assert.equal(bad.statusCode, 400, JSON.stringify(payload))
    if (!('y' in payload)) assert.equal(bad.json().field, 'body.text', JSON.stringify(payload))
  }
  for (const id of ['999999', 'abc', '0', '1e3']) {
    const bad = await app.inject({ method: 'POST', url: `/api/users/${id}/posts`, payload: { text: 'hi' } })
    assert.equal(bad.statusCode, 404, id)
    assert.equal(bad.json().field, 'params.id', id)
  }
  assert.equal((await outbox(h)).length, 2, 'rejected posts wrote no event')
  const { rows: posts } = await h.db.query<{ n: number }>('SELECT count(*)::int AS n FROM posts')
  assert.equal(posts[0]?.n, 2)
  assert.equal(await metric('feed_writes_total', { op: 'create_post', outcome: 'done' }), 2)
  assert.equal(await metric('feed_writes_total', { op: 'create_post', outcome: 'not_found' }), 1)
  assert.ok((await metric('feed_db_queries_total', { pool: 'primary', op: 'create_post' })) >= 3)
})

test('a post whose outbox insert fails is rolled back: no post, no event', async (t) => {
  const { app, harness: h } = await buildTestApp(t)
  const alice = await createUser(app)
  const bob = await createUser(app)
  // Make the outbox reject alice's events only, after her post row is already inserted.
  await h.db.query(
    `ALTER TABLE outbox ADD CONSTRAINT test_reject_alice CHECK (payload->>'authorId' <> '${alice.id}')`,
  )
  const res = await app.inject({
    method: 'POST',
    url: `/api/users/${alice.id}/posts`,
    payload: { text: 'lost' },
  })
  assert.equal(res.statusCode, 500)
  const { rows } = await h.db.query('SELECT id FROM posts WHERE author_id = $1', [alice.id])
  assert.deepEqual(rows, [], 'the post rolled back with its event')
  assert.equal(
    await h.redis.exists(h.keys.authorPosts(alice.id)),
    0,
    'no cache effect for an uncommitted post',
  )
  const ok = await createPost(app, bob.id, 'fine')
  assert.deepEqual(
    (await outbox(h)).map((r) => r.payload.postId),
    [ok.id],
  )
})

test('DELETE /api/posts/:id marks it deleted with one event, tombstones it, and repeats are 204', async (t) => {
  const { app, harness: h, metric } = await buildTestApp(t)
  const alice = await createUser(app)
  const post = await createPost(app, alice.id, 'soon gone')
  const keep = await createPost(app, alice.id, 'stays')

  const deletes = await Promise.all(
    Array.from({ length: 5 }, () => app.inject({ method: 'DELETE', url: `/api/posts/${post.id}` })),
  )
  assert.deepEqual(
    deletes.map((r) => r.statusCode),
    Array(5).fill(204),
  )
  const events = (await outbox(h)).map((r) => r.payload)
  assert.equal(events.length, 3)
  assert.deepEqual(events[2], {
    type: 'post_deleted',
    outboxId: (await outbox(h))[2]?.id,
    postId: post.id,
    authorId: alice.id,
  })
  const { rows } = await h.db.query<{ deleted: boolean }>(
    'SELECT deleted_at IS NOT NULL AS deleted FROM posts WHERE id = $1',
    [post.id],
  )
  assert.deepEqual(rows, [{ deleted: true }])
  assert.deepEqual(JSON.parse((await h.redis.get(h.keys.post(post.id))) ?? 'null'), { deleted: true })
  assert.deepEqual(await h.redis.zrange(h.keys.authorPosts(alice.id), '0', '-1'), [keep.id])
  assert.equal(await metric('feed_writes_total', { op: 'delete_post', outcome: 'done' }), 1)
  assert.equal(await metric('feed_writes_total', { op: 'delete_post', outcome: 'noop' }), 4)

  const got = await app.inject({ method: 'GET', url: `/api/posts/${post.id}` })
  assert.equal(got.statusCode, 404)
  assert.equal(got.json().code, 'FEED_ERR_POST_NOT_FOUND')
  // Without the tombstone, Postgres says deleted too.
  await h.redis.del(h.keys.post(post.id))
  assert.equal((await app.inject({ method: 'GET', url: `/api/posts/${post.id}` })).statusCode, 404)

  for (const id of [String(Number(keep.id) + 1), 'abc', '0', '123456789012345678901']) {
    const res = await app.inject({ method: 'DELETE', url: `/api/posts/${id}` })
    assert.equal(res.statusCode, 404, id)
    assert.equal(res.json().field, 'params.id')
  }
  assert.equal((await outbox(h)).length, 3, 'no event for unknown posts')
})

test('GET /api/posts/:id answers from the cache, or from Postgres and refills it', async (t) => {
  const { app, harness: h } = await buildTestApp(t)
  const alice = await createUser(app)
  const post = await createPost(app, alice.id, 'read me')
  const cached = await app.inject({ method: 'GET', url: `/api/posts/${post.id}` })
  assert.equal(cached.statusCode, 200)
  assert.deepEqual(cached.json(), post)

  await h.redis.del(h.keys.post(post.id))
  const fromDb = await app.inject({ method: 'GET', url: `/api/posts/${post.id}` })
  assert.equal(fromDb.statusCode, 200)
  assert.deepEqual(fromDb.json(), post)
  assert.deepEqual(JSON.parse((await h.redis.get(h.keys.post(post.id))) ?? 'null'), post, 'refilled')

  for (const id of [String(Number(post.id) + 1), 'x', '01', '9007199254740993']) {
    const res = await app.inject({ method: 'GET', url: `/api/posts/${id}` })
    assert.equal(res.statusCode, 404, id)
  }
})

test('a failing after-commit side effect (Redis down) does not turn a committed write into an error', async (t) => {
  // Nothing listens on port 1: every Redis command of this instance fails.
  const {
    app,
    harness: h,
    metric,
  } = await buildTestApp(t, {
    env: { REDIS_URL: 'redis://127.0.0.1:1', REDIS_COMMAND_TIMEOUT_MS: '200' },
  })
  const alice = await createUser(app)
  const bob = await createUser(app)
  await follow(app, alice.id, bob.id)
  const post = await createPost(app, bob.id, 'durable')
  await deletePost(app, post.id)
  await unfollow(app, alice.id, bob.id)
  assert.equal((await outbox(h)).length, 2, 'both events committed')
  assert.equal(await followerCount(h, bob.id), 0)
  for (const op of ['create_user', 'follow', 'create_post', 'delete_post', 'unfollow']) {
    assert.ok((await metric('feed_after_commit_failures_total', { op })) > 0, op)
  }
  // Readiness does not depend on Redis or Postgres.
  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  assert.equal(ready.statusCode, 200)
})

test('service routes: /healthz, /readyz, /metrics, /admin/mitigations, JSON 404', async (t) => {
  const { app } = await buildTestApp(t, { mitigations: { readYourWrites: false } })
  assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
  assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
  const metrics = await app.inject({ method: 'GET', url: '/metrics' })
  assert.equal(metrics.statusCode, 200)
  for (const name of ['feed_writes_total', 'feed_db_queries_total', 'pg_pool_clients_total']) {
    assert.ok(metrics.body.includes(name), name)
  }
  assert.match(metrics.body, /pg_pool_clients_total\{[^}]*pool="replica"/)
  const switches = await app.inject({ method: 'GET', url: '/admin/mitigations' })
  assert.equal(switches.statusCode, 200)
  assert.equal(switches.json().readYourWrites, false)
  assert.equal(switches.json().hybridFanout, true)
  const notFound = await app.inject({ method: 'GET', url: '/api/nothing' })
  assert.equal(notFound.statusCode, 404)
  assert.equal(typeof notFound.json().code, 'string')
})

test('GET /openapi.json: OpenAPI 3.1 listing the API of the issue and the switches', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: '/openapi.json' })
  assert.equal(res.statusCode, 200)
  const doc = res.json()
  assert.equal(doc.openapi, '3.1.0')
  assert.deepEqual(operationsOf(doc), [
    'DELETE /api/posts/{id}',
    'DELETE /api/users/{id}/follows/{targetId}',
    'GET /admin/mitigations',
    'GET /api/posts/{id}',
    'GET /api/users/{id}/timeline',
    'POST /api/users',
    'POST /api/users/{id}/posts',
    'PUT /admin/mitigations',
    'PUT /api/users/{id}/follows/{targetId}',
  ])
  const timeline = doc.paths['/api/users/{id}/timeline'].get
  assert.deepEqual(timeline.tags, ['timeline'])
  assert.deepEqual(Object.keys(timeline.responses).sort(), ['200', '206', '400', '404', '503'])
  assert.equal(
    doc.paths['/api/users'].post.responses['400'].content['application/json'].schema.$ref,
    '#/components/schemas/Error',
  )
})

test('end to end through the read path: own posts at once, a follow’s posts merged, deleted ones gone', async (t) => {
  const { app } = await buildTestApp(t)
  const alice = await createUser(app)
  const bob = await createUser(app)
  const mine = await createPost(app, alice.id, 'mine')
  const bobs = [await createPost(app, bob.id, 'b1'), await createPost(app, bob.id, 'b2')]
  await follow(app, alice.id, bob.id)
  await deletePost(app, bobs[0]?.id ?? '')
  const page = await readTimeline(app, alice.id)
  assert.equal(page.status, 200)
  assert.deepEqual(
    page.body.items.map((p) => p.id),
    [bobs[1]?.id, mine.id],
    'newest first: bob’s live post (merged by the follow) and alice’s own',
  )
  await unfollow(app, alice.id, bob.id)
  assert.deepEqual(
    (await readTimeline(app, alice.id)).body.items.map((p) => p.id),
    [mine.id],
  )
})

test('Postgres unreachable: /readyz stays 200 and a write fails fast with a 503, not a hang', async (t) => {
  const { app } = await buildTestApp(t, {
    env: {
      DATABASE_URL: 'postgres://faultline:faultline@127.0.0.1:1/faultline',
      DB_CONNECT_TIMEOUT_MS: '500',
    },
  })
  assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
  const res = await app.inject({ method: 'POST', url: '/api/users', payload: { handle: uniqueHandle() } })
  assert.equal(res.statusCode, 503, 'an outage is a 503 (retry), not a 500 (bug)')
  assert.equal(res.headers['retry-after'], '1')
  assert.equal(res.json().code, 'KIT_ERR_DEPENDENCY_UNAVAILABLE')
  assert.doesNotMatch(res.body, /127\.0\.0\.1|faultline@/, 'no connection details leak')
})
