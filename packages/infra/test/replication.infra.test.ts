/**
 * The replica really replays the primary: a row written through the primary's Toxiproxy proxy
 * (the path a service uses) shows up on the streaming standby, which refuses writes itself.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { directEnv, serviceEnv } from '../src/topology.ts'
import { ensureUp, upTimeoutMs } from './support.ts'

const replicationTimeoutMs = 15_000

before(() => ensureUp('toxiproxy', 'postgres', 'postgres-replica'), { timeout: upTimeoutMs })

test('a row written on the primary (through its proxy) appears on the replica', async (t) => {
  const primary = new pg.Client({ connectionString: serviceEnv().DATABASE_URL })
  const replica = new pg.Client({ connectionString: directEnv().DATABASE_REPLICA_URL })
  await primary.connect()
  await replica.connect()
  const table = `replication_probe_${randomUUID().slice(0, 8)}`
  t.after(async () => {
    await primary.query(`DROP TABLE IF EXISTS ${table}`)
    await primary.end()
    await replica.end()
  })

  const note = `written at ${new Date().toISOString()}`
  await primary.query(`CREATE TABLE ${table} (id int PRIMARY KEY, note text NOT NULL)`)
  await primary.query(`INSERT INTO ${table} (id, note) VALUES (1, $1)`, [note])

  const deadline = Date.now() + replicationTimeoutMs
  let replayed: string | undefined
  while (replayed === undefined) {
    try {
      const { rows } = await replica.query<{ note: string }>(`SELECT note FROM ${table} WHERE id = 1`)
      replayed = rows[0]?.note
    } catch (err) {
      // 42P01: the CREATE TABLE has not been replayed yet.
      if ((err as { code?: string }).code !== '42P01') throw err
    }
    if (replayed === undefined) {
      assert.ok(Date.now() < deadline, `row not replayed on the replica within ${replicationTimeoutMs} ms`)
      await sleep(100)
    }
  }
  assert.equal(replayed, note)

  const { rows } = await replica.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby')
  assert.equal(rows[0]?.standby, true)
  await assert.rejects(replica.query(`INSERT INTO ${table} (id, note) VALUES (2, 'no')`), {
    code: '25006', // read_only_sql_transaction
  })
})
