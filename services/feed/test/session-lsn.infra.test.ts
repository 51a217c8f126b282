/**
 * Read-your-writes on a lagging replica (pm14), on the real streaming replica: replay is paused
 * with `pg_wal_replay_pause()` on the replica's direct port (the lag the experiment injects) and
 * always resumed in `finally`, since every other test reads that replica too.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { directEnv } from '@faultline/infra'
import pg from 'pg'
import { createPost, createUser, eventually, feedHarness, readTimeline, type TestApp } from './helpers.ts'

async function ownPostVisible(api: TestApp, userId: string, postId: string): Promise<boolean> {
  const res = await readTimeline(api.app, userId, { limit: 10 })
  assert.equal(res.status, 200)
  return res.body.items.some((p) => p.id === postId)
}

async function replicaHasPost(replica: pg.Pool, postId: string): Promise<boolean> {
  return ((await replica.query('SELECT 1 FROM posts WHERE id = $1', [postId])).rowCount ?? 0) > 0
}

test("a writer's next read goes to the primary while the replica lags, and sees the post", async (t) => {
  const h = await feedHarness(t)
  const hardened = await h.buildTestApp()
  const naive = await h.buildTestApp({ mitigations: { readYourWrites: false } })
  const writer = await createUser(hardened.app)
  await eventually('the replica has the user', async () =>
    Boolean((await hardened.replica.query('SELECT 1 FROM users WHERE id = $1', [writer.id])).rowCount),
  )
  // Both instances have read the (empty) timeline once, so no rebuild is involved below.
  for (const api of [hardened, naive]) assert.equal((await readTimeline(api.app, writer.id)).status, 200)

  const admin = new pg.Client({ connectionString: directEnv().DATABASE_REPLICA_URL })
  await admin.connect()
  let post: Awaited<ReturnType<typeof createPost>>
  try {
    await admin.query('SELECT pg_wal_replay_pause()')
    post = await createPost(hardened.app, writer.id, 'mine')
    assert.equal(await replicaHasPost(hardened.replica, post.id), false, 'the replica is behind the write')

    assert.ok(await ownPostVisible(hardened, writer.id, post.id), 'hardened: the writer sees their post')
    assert.ok((await hardened.metric('feed_ryw_route_total', { target: 'primary' })) >= 1)
    assert.equal(
      await ownPostVisible(naive, writer.id, post.id),
      false,
      'naive: the lagging replica hides it',
    )
    assert.ok((await naive.metric('feed_ryw_route_total', { target: 'replica' })) >= 1)
    assert.equal(await naive.metric('feed_ryw_route_total', { target: 'primary' }), 0)
  } finally {
    await admin.query('SELECT pg_wal_replay_resume()').catch(() => {})
    await admin.end()
  }

  // Once the replica has replayed the write, both read it there.
  await eventually('the replica replays the post', () => replicaHasPost(hardened.replica, post.id))
  const replicaReadsBefore = await hardened.metric('feed_ryw_route_total', { target: 'replica' })
  await eventually('hardened reads go back to the replica', async () => {
    assert.ok(await ownPostVisible(hardened, writer.id, post.id))
    return (await hardened.metric('feed_ryw_route_total', { target: 'replica' })) > replicaReadsBefore
  })
  assert.ok(await ownPostVisible(naive, writer.id, post.id), 'naive sees it once the replica caught up')
})
