import assert from 'node:assert/strict'
import { test } from 'node:test'
import { harness, type Instance } from './helpers.ts'

/**
 * The create path's id source under contention: 4 instances — each its own allocator and its
 * own Postgres pool, like 4 processes — take 25 000 ids each, 50 at a time concurrently, from
 * small blocks (so there are ~100 leases racing on the id_blocks row), and write the links in
 * bulk. The unique constraint on links.code would reject any duplicate; the final count checks
 * distinct codes = links.
 */
test('4 instances creating 100 000 links concurrently produce no duplicate code', async (t) => {
  const h = await harness(t, { env: { ID_BLOCK_SIZE: '997' } })
  const instances = await Promise.all(Array.from({ length: 4 }, () => h.instance()))
  const perInstance = 25_000
  const chunk = 5000

  const run = async (i: Instance) => {
    const { allocator, codec } = i.shortener
    for (let done = 0; done < perInstance; done += chunk) {
      const ids: number[] = []
      // 50 concurrent takers per instance, like 50 requests in flight.
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          for (let n = 0; n < chunk / 50; n++) ids.push(await allocator.next())
        }),
      )
      const codes = ids.map((id) => codec.encode(id))
      await i.pool.query(
        `INSERT INTO links (id, code, url) SELECT id, code, 'https://example.com/' || id
         FROM unnest($1::bigint[], $2::text[]) AS t(id, code)`,
        [ids, codes],
      )
    }
    return allocator.leases
  }
  const leases = await Promise.all(instances.map(run))
  const { rows } = await h.db.query(
    'SELECT count(*)::int AS n, count(DISTINCT code)::int AS distinct FROM links',
  )
  assert.equal(rows[0].n, 100_000)
  assert.equal(rows[0].distinct, 100_000)
  const sumLeases = leases.reduce((a, b) => a + b, 0)
  assert.ok(sumLeases >= 100, `${sumLeases} leases: every instance went back to Postgres many times`)
})

test('4 instances over HTTP: 2000 concurrent creates, all 201, all codes distinct', async (t) => {
  const h = await harness(t, { env: { ID_BLOCK_SIZE: '50' } })
  const instances = await Promise.all(Array.from({ length: 4 }, () => h.instance()))
  const codes: string[] = []
  await Promise.all(
    instances.flatMap((i, k) =>
      Array.from({ length: 25 }, async (_, lane) => {
        for (let n = 0; n < 20; n++) {
          const res = await i.app.inject({
            method: 'POST',
            url: '/api/links',
            payload: { url: `https://example.com/${k}/${lane}/${n}` },
          })
          assert.equal(res.statusCode, 201)
          codes.push(res.json().code)
        }
      }),
    ),
  )
  assert.equal(codes.length, 2000)
  assert.equal(new Set(codes).size, 2000)
  const { rows } = await h.db.query('SELECT count(DISTINCT code)::int AS n FROM links')
  assert.equal(rows[0].n, 2000)
})
