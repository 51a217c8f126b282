// TimelineStore on the real cache Redis: the capped, idempotent, skip-if-missing writes the fan-out
// relies on, the sentinel that makes an empty timeline exist, and paging by id.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createRedis } from '@faultline/kit/clients'
import type { AfterHost } from '@faultline/testkit'
import { testInfra } from '@faultline/testkit'
import { Keys, TIMELINE_SENTINEL } from '../src/keys.ts'
import { TimelineStore, type TimelineStoreOptions } from '../src/timeline-store.ts'

async function storeFor(t: AfterHost, options: Partial<TimelineStoreOptions> = {}) {
  const infra = await testInfra(t, { need: ['redis'] })
  const keys = new Keys(infra.keyPrefix().replace(/:$/, ''))
  const redis = createRedis(infra.urls.redisUrl, { name: 'feed-store-test', commandTimeoutMs: 2000 })
  infra.defer(() => redis.disconnect())
  const store = new TimelineStore(redis, {
    keys,
    timelineCap: 800,
    authorRecentCap: 200,
    activeWindowMs: 60_000,
    ...options,
  })
  return { store, redis, keys }
}

const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i))

test('pushing an id twice adds it once (a redelivered event changes nothing)', async (t) => {
  const { store, redis, keys } = await storeFor(t)
  await store.buildTimeline('1', [])
  assert.deepEqual(await store.pushToActive(['1'], 'a', '100', 10), {
    added: 1,
    already: 0,
    inactive: 0,
    unfollowed: 0,
  })
  assert.deepEqual(await store.pushToActive(['1'], 'a', '100', 10), {
    added: 0,
    already: 1,
    inactive: 0,
    unfollowed: 0,
  })
  assert.deepEqual(await redis.zrange(keys.timeline('1'), '0', '-1'), [TIMELINE_SENTINEL, '100'])
})

test('a timeline keeps the newest `cap` ids and its sentinel', async (t) => {
  const { store, redis, keys } = await storeFor(t, { timelineCap: 3 })
  await store.buildTimeline('1', [])
  for (const id of ids(1, 6)) await store.pushToActive(['1'], 'a', id, 10)
  assert.deepEqual(await store.timelinePage('1', 10), ['6', '5', '4'])
  assert.equal(await redis.zscore(keys.timeline('1'), TIMELINE_SENTINEL), '0')
  assert.equal(await redis.zcard(keys.timeline('1')), 4)
  // A rebuild's batch larger than the cap is trimmed the same way.
  await store.buildTimeline('2', ids(10, 20))
  assert.deepEqual(await store.timelinePage('2', 10), ['20', '19', '18'])
})

test('fan-out skips users without a timeline and does not create one', async (t) => {
  const { store, redis, keys } = await storeFor(t)
  await store.buildTimeline('active', [])
  const result = await store.pushToActive(['active', 'gone1', 'gone2'], 'a', '7', 2)
  assert.deepEqual(result, { added: 1, already: 0, inactive: 2, unfollowed: 0 })
  assert.equal(await redis.exists(keys.timeline('gone1'), keys.timeline('gone2')), 0)
  assert.equal(await store.timelinePage('gone1', 10), null)
  assert.equal(await store.addToTimeline('gone1', ['8']), -1)
})

test('an unfollow takes the author out and refuses their later pushes until a follow', async (t) => {
  const { store, redis, keys } = await storeFor(t, { unfollowGuardMs: 60_000 })
  await store.buildTimeline('1', ['10', '11'])
  await store.pushToActive(['1'], 'author', '12', 10)
  // '10' and '12' are the author's; '11' another followee's.
  await store.unfollow('1', 'author', ['10', '12'])
  assert.deepEqual(await store.timelinePage('1', 10), ['11'])
  // A fan-out that read its follower page before the unfollow committed lands after it: refused.
  const late = await store.pushToActive(['1', '2'], 'author', '13', 10)
  assert.deepEqual(late, { added: 0, already: 0, inactive: 1, unfollowed: 1 })
  assert.deepEqual(await store.timelinePage('1', 10), ['11'])
  // Other authors' posts still arrive, and the guard expires with the window.
  assert.equal((await store.pushToActive(['1'], 'other', '14', 10)).added, 1)
  const ttl = await redis.pttl(keys.unfollowed('1'))
  assert.ok(ttl > 0 && ttl <= 60_000, `the guard expires with the window (pttl ${ttl})`)
  // Following again lifts the refusal and merges the author's posts back.
  assert.equal(await store.follow('1', 'author', ['10', '12', '13']), 3)
  assert.equal((await store.pushToActive(['1'], 'author', '15', 10)).added, 1)
  assert.deepEqual(await store.timelinePage('1', 10), ['15', '14', '13', '12', '11', '10'])
})

test('a rebuild undoes an unfollow that landed between its query and its add', async (t) => {
  const { store } = await storeFor(t)
  await store.buildTimeline('1', [])
  const queriedAt = Date.now()
  // The unfollow commits and runs its Redis transaction after the rebuild's query read the followees.
  await store.unfollow('1', 'gone', [])
  await store.buildTimeline('1', ['20', '21', '22'])
  const posts = [
    { id: '20', authorId: 'kept' },
    { id: '21', authorId: 'gone' },
    { id: '22', authorId: 'gone' },
  ]
  assert.equal(await store.dropUnfollowedSince('1', queriedAt, posts), 2)
  assert.deepEqual(await store.timelinePage('1', 10), ['20'])
  // An unfollow long before the rebuild's query is not this rebuild's business.
  assert.equal(await store.dropUnfollowedSince('1', Date.now() + 60_000, posts), 0)
})

test('pages are newest first, strictly older than the cursor, and a read renews the TTL', async (t) => {
  const { store, redis, keys } = await storeFor(t, { activeWindowMs: 60_000 })
  await store.buildTimeline('1', ids(1, 10))
  assert.deepEqual(await store.timelinePage('1', 3), ['10', '9', '8'])
  assert.deepEqual(await store.timelinePage('1', 3, '8'), ['7', '6', '5'])
  assert.deepEqual(await store.timelinePage('1', 10, '3'), ['2', '1'])
  // The sentinel is never a post: an empty built timeline pages as [] (not null = "rebuild").
  assert.deepEqual(await store.timelinePage('1', 10, '1'), [])
  await store.buildTimeline('empty', [])
  assert.deepEqual(await store.timelinePage('empty', 10), [])
  await redis.pexpire(keys.timeline('1'), 1000)
  await store.timelinePage('1', 1)
  assert.ok((await redis.pttl(keys.timeline('1'))) > 1000, 'the read renewed the active window')
})

test('a push between a rebuild creating the timeline and filling it is kept', async (t) => {
  const { store } = await storeFor(t)
  // The rebuild creates the empty timeline first, then reads Postgres (which missed post 50) ...
  await store.buildTimeline('1', [])
  // ... meanwhile the fan-out of post 50 finds the timeline and lands in it ...
  assert.equal((await store.pushToActive(['1'], 'a', '50', 10)).added, 1)
  // ... and the rebuild adds what Postgres returned.
  await store.buildTimeline('1', ['10', '20'])
  assert.deepEqual(await store.timelinePage('1', 10), ['50', '20', '10'])
})

test('removals take ids out of timelines and author sets; author sets are capped, without sentinel', async (t) => {
  const { store, redis, keys } = await storeFor(t, { authorRecentCap: 2 })
  await store.buildTimeline('1', ['5', '6'])
  await store.buildTimeline('2', ['5'])
  await store.removeFromTimelines(['1', '2', 'missing'], ['5'], 2)
  assert.deepEqual(await store.timelinePage('1', 10), ['6'])
  assert.deepEqual(await store.timelinePage('2', 10), [])
  assert.equal(await redis.exists(keys.timeline('missing')), 0)

  assert.equal(await store.authorPage('a', 10), null)
  // A set created by a new post is incomplete (it may lack older posts): readers refill it.
  await store.addToAuthor('a', ['1', '2', '3'])
  assert.equal(await store.authorPage('a', 10), null, 'incomplete until built')
  assert.deepEqual(await redis.zrange(keys.authorPosts('a'), '0', '-1'), ['2', '3'], 'capped at 2')
  await store.buildAuthor('a', ['1', '2'])
  assert.deepEqual(await store.authorPage('a', 10), ['3', '2'], 'complete, still capped, sentinel kept')
  assert.equal(await redis.zscore(keys.authorPosts('a'), TIMELINE_SENTINEL), '0')
  await store.removeFromAuthor('a', ['3'])
  assert.deepEqual(await store.authorPage('a', 10, '9'), ['2'])
  await store.addToAuthor('a', ['4'])
  assert.deepEqual(await store.authorPage('a', 10), ['4', '2'], 'a complete set stays complete')
  // An author with no posts: built empty, complete, so readers stop asking Postgres.
  await store.buildAuthor('b', [])
  assert.deepEqual(await store.authorPage('b', 10), [])
})
