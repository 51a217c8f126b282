/**
 * The fixture the chaos experiments use, on real Postgres and Redis in a test schema and key
 * prefix: seeded links are real links (the service redirects them, and its own allocator never
 * hands out a seeded id), the reset removes one prefix's rows and keys and nothing else, and the
 * counts and the pm13 drill read what is really there.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { createRedis } from '@faultline/kit/clients'
import { migrate } from '@faultline/migrate'
import { ShortenerFixture } from '../src/fixture.ts'
import { Keys } from '../src/keys.ts'
import { createLink, eventually, harness, silentLog } from './helpers.ts'

async function setup(t: Parameters<typeof harness>[0]) {
  const h = await harness(t)
  const fixture = new ShortenerFixture({ schema: h.schema, keyPrefix: h.env.REDIS_KEY_PREFIX })
  const redis = createRedis(h.infra.urls.redisUrl, { name: 'fixture-test', log: silentLog })
  h.infra.defer(async () => {
    redis.disconnect()
  })
  return { h, fixture, clients: { pg: h.db, redis } }
}

test('seeded links redirect, and the service never hands out a seeded id', async (t) => {
  const { h, fixture, clients } = await setup(t)
  const links = ['s-1', 's-2', 's-3'].map((code) => ({ code, url: `https://example.com/${code}` }))
  assert.deepEqual(await fixture.seedLinks(clients.pg, links), { inserted: 3, present: 0 })
  assert.deepEqual(await fixture.seedLinks(clients.pg, links), { inserted: 0, present: 3 })

  const i = await h.instance()
  const res = await i.app.inject({ method: 'GET', url: '/s-2' })
  assert.equal(res.headers.location, 'https://example.com/s-2')
  assert.equal((await createLink(i.app, { url: 'https://example.com/x', alias: 'api-made' })).status, 201)
  const { rows } = await h.db.query<{ id: string }>('SELECT id FROM links')
  assert.equal(new Set(rows.map((r) => r.id)).size, 4, 'four distinct ids')
})

test('a code created between the check and its insert counts as present; the others are inserted', async (t) => {
  const { h, fixture, clients } = await setup(t)
  // Another writer inserts race-1 without committing: the check does not see it, the seeding's
  // insert waits on it, and fails with a unique violation once it commits.
  const other = await h.db.connect()
  try {
    await other.query('BEGIN')
    await other.query(
      `INSERT INTO links (id, code, url, custom_alias) VALUES (-1, 'race-1', 'https://example.com/theirs', true)`,
    )
    const otherPid = (await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid
    const seeding = fixture.seedLinks(clients.pg, [
      { code: 'race-1', url: 'https://example.com/ours' },
      { code: 'race-2', url: 'https://example.com/ours' },
    ])
    await eventually('the seeding waits on the uncommitted row', async () => {
      const { rows } = await h.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))',
        [otherPid],
      )
      return rows[0]?.n === 1
    })
    await other.query('COMMIT')
    assert.deepEqual(await seeding, { inserted: 1, present: 1 })
  } finally {
    await other.query('ROLLBACK').catch(() => {})
    other.release()
  }
  const { rows } = await h.db.query<{ code: string; url: string }>(
    'SELECT code, url FROM links ORDER BY code',
  )
  assert.deepEqual(rows, [
    { code: 'race-1', url: 'https://example.com/theirs' },
    { code: 'race-2', url: 'https://example.com/ours' },
  ])
})

test('reset removes one prefix: rows, click counts, cache entries and fill leases', async (t) => {
  const { h, fixture, clients } = await setup(t)
  await fixture.seedLinks(clients.pg, [
    { code: 'a_1', url: 'https://example.com/a' },
    { code: 'ab1', url: 'https://example.com/ab' },
    { code: 'b-1', url: 'https://example.com/b' },
  ])
  await h.db.query(`INSERT INTO link_clicks (code, count) VALUES ('a_1', 5), ('ab1', 7), ('b-1', 2)`)
  for (const code of ['a_1', 'ab1', 'b-1']) {
    await clients.redis.set(fixture.keys.link(code), '{}')
    await clients.redis.set(fixture.keys.fillLease(code), 'token')
  }
  assert.equal(await fixture.clicksCounted(clients.pg, 'a'), 12)
  assert.equal(await fixture.cachedCount(clients.redis, ['a_1', 'ab1', 'b-1', 'none']), 3)

  // `_` is a LIKE wildcard and must be taken literally: `a_` is not `ab`.
  const removed = await fixture.reset(clients, 'a_')
  assert.deepEqual(removed, { links: 1, clickCounts: 1, keys: 2 })
  assert.equal(await fixture.clicksCounted(clients.pg, 'a'), 7)
  assert.equal(await fixture.cachedCount(clients.redis, ['a_1', 'ab1', 'b-1']), 2)
  const { rows } = await h.db.query<{ code: string }>('SELECT code FROM links ORDER BY code')
  assert.deepEqual(
    rows.map((r) => r.code),
    ['ab1', 'b-1'],
  )
  await assert.rejects(fixture.reset(clients, ''), /needs a code prefix/)
})

test('reset before the migrations ran removes keys and touches no table', async (t) => {
  const { h, clients } = await setup(t)
  const fixture = new ShortenerFixture({
    schema: `none_${randomUUID().slice(0, 8)}`,
    keyPrefix: h.env.REDIS_KEY_PREFIX,
  })
  await clients.redis.set(fixture.keys.link('p-1'), '{}')
  assert.equal(await fixture.installed(clients.pg), false)
  assert.deepEqual(await fixture.reset(clients, 'p-'), { links: 0, clickCounts: 0, keys: 1 })
})

test('links created and warmed through the API are cached', async (t) => {
  const { h, fixture, clients } = await setup(t)
  const i = await h.instance()
  const base = await i.app.listen({ port: 0, host: '127.0.0.1' })
  const links = Array.from({ length: 30 }, (_, n) => ({ code: `w-${n}`, url: `https://example.com/${n}` }))
  await fixture.createLinks([base, base], links, { concurrency: 7, warm: true })
  assert.equal(
    await fixture.cachedCount(
      clients.redis,
      links.map((l) => l.code),
    ),
    30,
  )
  await assert.rejects(
    fixture.redirectEach([base], ['w-1', 'missing-1', 'missing-2']),
    /2 of 3 redirects failed/,
  )
})

test('the add-column drill: prepared, applied by the runner, prepared again', async (t) => {
  const { h, fixture } = await setup(t)
  const drill = fixture.addColumnDrill({
    column: 'drill_note',
    bookkeepingTable: 'drill_schema_migrations',
    dir: join(tmpdir(), `faultline-drill-${randomUUID()}`),
    writtenBy: 'services/shortener/test/fixture.infra.test.ts',
  })
  await drill.prepare(h.db)
  assert.deepEqual(await drill.state(h.db), { columnExists: false })
  const args = drill.runnerArgs()
  assert.deepEqual(args, ['--dir', drill.dir, '--schema', h.schema, '--table', 'drill_schema_migrations'])
  await migrate({ dir: drill.dir, pool: h.db, schema: h.schema, table: drill.bookkeepingTable })
  const applied = await drill.state(h.db)
  assert.equal(applied.columnExists, true)
  assert.equal(applied.applied?.attempts, 1)
  await h.db.query(drill.longReadStatement)
  await drill.prepare(h.db)
  assert.deepEqual(await drill.state(h.db), { columnExists: false })
})

test('key patterns match one code prefix literally', () => {
  const keys = new Keys('t:1:')
  assert.deepEqual(keys.codePatterns('a*'), ['t:1:shortener:link:a\\**', 't:1:shortener:fill:a\\**'])
})
