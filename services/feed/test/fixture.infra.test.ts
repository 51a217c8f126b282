/**
 * The fixture the feed's experiments use, on real Postgres, Redis and Kafka in a test schema, key
 * prefix and topic: a seeded graph is a real graph (the API serves it, the service's own sequence
 * never hands out a seeded id), the reset removes one handle prefix and nothing else, the expected
 * timeline is what the semantics say, the comparison counts each kind of wrong, and the checker
 * run through the API finds nothing on a consistent state and what was broken on purpose.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createKafka } from '@faultline/kit/clients'
import { FeedFixture, groupLag } from '../src/fixture.ts'
import { postIdTimeMs } from '../src/ids.ts'
import { TimelineStore } from '../src/timeline-store.ts'
import { type FeedHarness, feedHarness } from './helpers.ts'

function fixtureOf(h: FeedHarness, options: { celebrityThreshold?: number } = {}): FeedFixture {
  return new FeedFixture({ schema: h.schema, keyPrefix: h.keyPrefix, ...options })
}

/** Sets a post's deleted_at the way the API's delete does (the fixture never writes posts but by COPY). */
async function markDeleted(h: FeedHarness, postId: string): Promise<void> {
  await h.db.query('UPDATE posts SET deleted_at = now() WHERE id = $1', [postId])
}

async function postsOf(h: FeedHarness, authorId: string): Promise<string[]> {
  const { rows } = await h.db.query<{ id: string }>(
    'SELECT id::text FROM posts WHERE author_id = $1 ORDER BY posts.id DESC',
    [authorId],
  )
  return rows.map((r) => r.id)
}

test('seedGraph writes users, follows and posts by COPY, follower_count right, ids the service respects', async (t) => {
  const h = await feedHarness(t)
  const fixture = fixtureOf(h)
  const seeded = await fixture.seedGraph(h.db, {
    handlePrefix: 'g_',
    users: 5,
    edges: [
      [1, 2],
      [3, 2],
      [4, 2],
      [2, 1],
    ],
    celebrities: 1,
    celebrityFollowers: 3,
    postsPerUser: 4,
    randomSeed: 11,
  })
  assert.equal(seeded.userIds.length, 5)
  assert.deepEqual(seeded.celebrityIds, [seeded.userIds[0]])
  assert.equal(seeded.posts, 20)
  const counts = await fixture.followerCounts(h.db, seeded.userIds)
  assert.deepEqual(
    seeded.userIds.map((id) => counts.get(id)),
    [3, 1, 3, 0, 0],
  )
  assert.deepEqual([...seeded.followerCounts], [3, 1, 3, 0, 0])
  assert.equal(seeded.follows, 7)
  assert.equal(await fixture.followerCountDrift(h.db), 0)

  const { rows: posts } = await h.db.query<{ id: string; ms: number }>(
    'SELECT id::text, (extract(epoch FROM created_at) * 1000)::float8 AS ms FROM posts',
  )
  assert.equal(posts.length, 20)
  for (const p of posts) assert.equal(postIdTimeMs(p.id), p.ms, 'created_at is the id’s millisecond')
  assert.ok(
    posts.every((p) => p.ms < Date.now()),
    'seeded posts are in the past',
  )

  // The users' sequence moved past the seeded ids: a user made now gets a fresh id.
  const { rows } = await h.db.query<{ id: string }>(
    `INSERT INTO users (handle) VALUES ('after') RETURNING id::text`,
  )
  assert.ok(!seeded.userIds.includes(rows[0]?.id as string))
  await assert.rejects(
    fixture.seedGraph(h.db, { handlePrefix: 'g_', users: 1 }),
    /exist already/,
    'a second seed of the same prefix is refused, not half-written',
  )
})

test('reset removes one handle prefix: rows both ways, outbox, Redis keys; outside follower counts follow', async (t) => {
  const h = await feedHarness(t)
  const fixture = fixtureOf(h)
  const gone = await fixture.seedGraph(h.db, {
    handlePrefix: 'a_',
    users: 2,
    postsPerUser: 2,
    edges: [[0, 1]],
  })
  // `_` is a LIKE wildcard and must be taken literally: `ab…` users stay.
  const kept = await fixture.seedGraph(h.db, {
    handlePrefix: 'ab',
    users: 2,
    postsPerUser: 1,
    edges: [[0, 1]],
  })
  const [goneA, goneB] = gone.userIds as [string, string]
  const [keptA, keptB] = kept.userIds as [string, string]
  // Follows across the prefix, both ways, with their counts as the API keeps them.
  await h.db.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2), ($3, $4)', [
    goneA,
    keptB,
    keptA,
    goneB,
  ])
  await h.db.query('UPDATE users SET follower_count = follower_count + 1 WHERE id = ANY($1::bigint[])', [
    [keptB, goneB],
  ])
  await h.db.query(`INSERT INTO outbox (key, payload) VALUES ($1, '{}'), ($2, '{}')`, [goneA, keptA])
  const gonePost = (await postsOf(h, goneA))[0] as string
  const keptPost = (await postsOf(h, keptA))[0] as string
  for (const key of [
    h.keys.timeline(goneA),
    h.keys.sessionLsn(goneB),
    h.keys.post(gonePost),
    h.keys.timeline(keptA),
    h.keys.post(keptPost),
  ]) {
    await h.redis.set(key, 'x')
  }
  assert.equal(await fixture.followerCountDrift(h.db), 0)

  const removed = await fixture.reset({ pg: h.db, redis: h.redis }, { handlePrefix: 'a_' })
  assert.deepEqual(removed, { users: 2, follows: 3, posts: 4, outbox: 1, keys: 3 })
  const { rows } = await h.db.query<{ handle: string; follower_count: number }>(
    'SELECT handle, follower_count FROM users ORDER BY handle',
  )
  assert.deepEqual(rows, [
    { handle: 'ab0', follower_count: 0 },
    { handle: 'ab1', follower_count: 1 },
  ])
  assert.equal(await fixture.followerCountDrift(h.db), 0)
  assert.equal((await fixture.outboxBacklog(h.db)).rows, 1)
  assert.equal(await h.redis.exists(h.keys.timeline(keptA), h.keys.post(keptPost)), 2)
  await assert.rejects(
    fixture.reset({ pg: h.db, redis: h.redis }, { handlePrefix: '' }),
    /needs a handle prefix/,
  )
})

test('expectedTimeline is followees now + own, not deleted, newest first, capped; compare counts each kind', async (t) => {
  const h = await feedHarness(t)
  const fixture = new FeedFixture({ schema: h.schema, keyPrefix: h.keyPrefix, timelineCap: 6 })
  // 0 follows 1 and 2 (a celebrity at threshold 2: followed by 0 and 3); 3 posts nothing anyone reads.
  const seeded = await fixture.seedGraph(h.db, {
    handlePrefix: 'e_',
    users: 4,
    postsPerUser: 3,
    edges: [
      [0, 1],
      [0, 2],
      [3, 2],
    ],
  })
  const [me, friend, celebrity, stranger] = seeded.userIds as [string, string, string, string]
  const deleted = (await postsOf(h, friend))[0] as string
  await markDeleted(h, deleted)
  const eligible = [
    ...(await postsOf(h, me)),
    ...(await postsOf(h, friend)),
    ...(await postsOf(h, celebrity)),
  ]
    .filter((id) => id !== deleted)
    .sort((a, b) => Number(b) - Number(a))

  const expected = await fixture.expectedTimeline(h.db, me)
  assert.ok(expected)
  assert.deepEqual(expected.ids, eligible.slice(0, 6), 'newest 6 of 8 eligible')
  assert.equal(await fixture.expectedTimeline(h.db, '999999999'), undefined)
  const redisView = await fixture.expectedTimeline(h.db, me, { celebrityThreshold: 2 })
  const celebrityPosts = new Set(await postsOf(h, celebrity))
  assert.deepEqual(redisView?.ids, eligible.filter((id) => !celebrityPosts.has(id)).slice(0, 6))

  const ok = await fixture.compareTimelines(h.db, eligible, expected)
  assert.deepEqual(
    { ...ok, examples: undefined },
    { missing: 0, duplicated: 0, outOfOrder: 0, deletedVisible: 0, extra: 0, examples: undefined },
    'an eligible post older than the cap is not extra',
  )
  // Two posts older than every seeded one (tiny ids), so the order of the broken list is known.
  await h.db.query(
    `INSERT INTO posts (id, author_id, text, created_at, deleted_at)
     VALUES (101, $1, 'a stranger', now(), NULL), (100, $2, 'deleted', now(), now())`,
    [stranger, friend],
  )
  const [p0, p1, p2, p3] = expected.ids as [string, string, string, string]
  // p1/p0 swapped, p2 twice, a stranger's post, a deleted one, two ids of no post (in the wrong order).
  const broken = [p1, p0, p2, p2, '101', '100', '50', '60']
  const diff = await fixture.compareTimelines(h.db, broken, expected)
  assert.deepEqual(
    { ...diff, examples: undefined },
    { missing: 3, duplicated: 1, outOfOrder: 2, deletedVisible: 1, extra: 3, examples: undefined },
  )
  assert.ok(diff.examples.missing?.includes(p3))
  assert.deepEqual(diff.examples.extra, ['101', '50', '60'])
  assert.deepEqual(diff.examples.deletedVisible, ['100'])
})

test('activateTimelines builds what the rebuild would; timelineIds reads it; flushTimelines removes only timelines', async (t) => {
  const h = await feedHarness(t)
  const fixture = fixtureOf(h, { celebrityThreshold: 2 })
  // 0 is a celebrity at threshold 2 (followed by 1 and 2); 1 also follows 2.
  const seeded = await fixture.seedGraph(h.db, {
    handlePrefix: 'r_',
    users: 4,
    postsPerUser: 2,
    edges: [
      [1, 0],
      [2, 0],
      [1, 2],
    ],
  })
  const follower = seeded.userIds[1] as string
  assert.equal(await fixture.timelineIds(h.redis, follower), null)
  assert.equal(
    await fixture.activateTimelines({ pg: h.db, redis: h.redis }, seeded.userIds, { hybrid: true }),
    4,
  )
  assert.equal(await fixture.activeCount(h.redis, [...seeded.userIds, '999999']), 4)

  const expected = await fixture.expectedTimeline(h.db, follower, { celebrityThreshold: 2 })
  assert.equal(expected?.ids.length, 4, 'own 2 + user 2’s 2; the celebrity is merged at read time')
  assert.equal((await fixture.expectedTimeline(h.db, follower))?.ids.length, 6)
  assert.deepEqual(await fixture.timelineIds(h.redis, follower), expected?.ids)
  // The service reads the same timeline the fixture built.
  const store = new TimelineStore(h.redis, {
    keys: h.keys,
    timelineCap: fixture.timelineCap,
    authorRecentCap: 200,
    activeWindowMs: fixture.activeWindowMs,
  })
  assert.deepEqual(await store.timelinePage(follower, 100), expected?.ids)
  assert.ok(
    (await h.redis.pttl(h.keys.timeline(follower))) > 0,
    'an activated timeline expires like a rebuilt one',
  )

  const cachedPost = h.keys.post('1')
  await h.redis.set(cachedPost, '{}')
  await h.redis.set(`${h.keyPrefix}x:tl:1`, 'another prefix')
  assert.equal(await fixture.flushTimelines(h.redis), 4)
  assert.equal(await fixture.activeCount(h.redis, seeded.userIds), 0)
  assert.equal(await h.redis.exists(cachedPost, `${h.keyPrefix}x:tl:1`), 2)
  await h.redis.unlink(`${h.keyPrefix}x:tl:1`)
})

test('through the API: users, follows, posts, deletes; the checker finds nothing, then what was broken', async (t) => {
  const h = await feedHarness(t)
  const { baseUrl } = await h.buildTestApp({ listen: true })
  assert.ok(baseUrl)
  const fixture = fixtureOf(h)
  const users = await fixture.createUsers([baseUrl], ['api_0', 'api_1', 'api_2', 'other'], { concurrency: 2 })
  const [a, b, c, other] = users.map((u) => u.id) as [string, string, string, string]
  const posts = []
  for (const author of [b, c, b, other, a]) posts.push(await fixture.post(baseUrl, author, `by ${author}`))
  await fixture.follow(baseUrl, a, b)
  await fixture.follow(baseUrl, a, c)
  await fixture.follow(baseUrl, b, c)
  await fixture.deletePost(baseUrl, posts[2]?.id as string)
  await fixture.unfollow(baseUrl, b, c)

  const served = await fixture.wholeTimeline(baseUrl, a, { pageSize: 2 })
  assert.ok(served.pages >= 2, 'read page by page')
  assert.deepEqual(
    served.items.map((p) => p.id),
    [posts[4], posts[1], posts[0]].map((p) => p?.id),
    'own post, then the followees’, the deleted one gone',
  )
  const clean = await fixture.checkTimelines(h.db, [baseUrl], { handlePrefix: 'api_' })
  assert.equal(clean.users, 3)
  assert.deepEqual(
    { missing: clean.missing, duplicated: clean.duplicated, outOfOrder: clean.outOfOrder },
    { missing: 0, duplicated: 0, outOfOrder: 0 },
  )
  assert.deepEqual(
    { deletedVisible: clean.deletedVisible, extra: clean.extra },
    { deletedVisible: 0, extra: 0 },
  )
  assert.equal(clean.expectedItems, 5)

  // Break a's timeline in Redis: a stranger's post in, a followee's post out.
  await h.redis.zadd(h.keys.timeline(a), posts[3]?.id as string, posts[3]?.id as string)
  await h.redis.zrem(h.keys.timeline(a), posts[0]?.id as string)
  const broken = await fixture.checkTimelines(h.db, [baseUrl], { handlePrefix: 'api_' })
  assert.equal(broken.extra, 1)
  assert.equal(broken.missing, 1)
  assert.deepEqual(
    broken.failures.map((f) => f.userId),
    [a],
  )
  assert.ok((await fixture.outboxBacklog(h.db)).rows >= 5, 'no relay runs here: the outbox keeps every event')
})

test('fanoutLag and waitForDrain read the real consumer group', async (t) => {
  const h = await feedHarness(t, { kafka: { partitions: 2 } })
  const fixture = new FeedFixture({
    schema: h.schema,
    keyPrefix: h.keyPrefix,
    postsTopic: h.topic as string,
    fanoutGroupId: h.groupId as string,
  })
  const kafka = createKafka({ brokers: h.infra.urls.kafkaBrokers, clientId: 'fixture-test' })
  const admin = kafka.admin()
  await admin.connect()
  h.infra.defer(() => admin.disconnect())
  const lag = groupLag(admin)
  assert.equal(await fixture.fanoutLag(lag), 0)
  const producer = kafka.producer()
  await producer.connect()
  await producer.send({
    topic: h.topic as string,
    messages: [
      { key: '1', value: 'a' },
      { key: '2', value: 'b' },
      { key: '3', value: 'c' },
    ],
  })
  await producer.disconnect()
  assert.equal(await fixture.fanoutLag(lag), 3, 'a group that never committed is behind by everything')
  await assert.rejects(
    fixture.waitForDrain({ pg: h.db, kafka: lag }, { timeoutMs: 300 }),
    /not drained after 300 ms: outbox 0 rows, lag 3/,
  )
  for (const { partition, high } of await admin.fetchTopicOffsets(h.topic as string)) {
    await admin.setOffsets({
      groupId: h.groupId as string,
      topic: h.topic as string,
      partitions: [{ partition, offset: high }],
    })
  }
  assert.equal(await fixture.fanoutLag(lag), 0)
  await fixture.waitForDrain({ pg: h.db, kafka: lag }, { timeoutMs: 5000 })
  await h.db.query(`INSERT INTO outbox (key, payload) VALUES ('1', '{}')`)
  await assert.rejects(fixture.waitForDrain({ pg: h.db, kafka: lag }, { timeoutMs: 300 }), /outbox 1 rows/)
  await h.db.query('DELETE FROM outbox')
})

test('pauseReplay stops the replica replaying (it falls behind) until resumeReplay', async (t) => {
  const h = await feedHarness(t)
  const fixture = fixtureOf(h)
  const { default: pg } = await import('pg')
  const replica = new pg.Pool({ connectionString: h.config().replicaUrl, max: 1 })
  h.infra.defer(() => replica.end())
  assert.equal(await fixture.replayPaused(replica), false)
  await fixture.pauseReplay(replica)
  try {
    assert.equal(await fixture.replayPaused(replica), true)
    await h.db.query(`INSERT INTO users (handle) VALUES ('while_paused')`)
    assert.ok((await fixture.replicaLagBytes(h.db, replica)) > 0, 'the primary moved on, the replica did not')
  } finally {
    await fixture.resumeReplay(replica)
  }
  assert.equal(await fixture.replayPaused(replica), false)
})
