// Fault actions against the real native topology (Toxiproxy, Redis, Postgres): `./faultline infra up`.
// Toxics go on the s3 proxy, which no other test in this package uses, and are removed at once.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { ports, proxies } from '@faultline/infra'
import { ClientRegistry } from '../src/clients/registry.ts'
import { createLabContext, extendContext } from '../src/context.ts'
import type { FaultContext } from '../src/faults/action.ts'
import {
  deleteKeys,
  disconnect,
  infra,
  kill,
  latency,
  pause,
  service,
  signal,
  sql,
  stop,
} from '../src/faults/index.ts'
import { nativeInfra } from '../src/infra.ts'
import { repoRoot } from '../src/paths.ts'
import { ServiceFleet } from '../src/services.ts'
import { Timeline } from '../src/timeline.ts'
import selftest from './fixtures/selftest.system.ts'

const fleet = new ServiceFleet({
  repoRoot,
  system: selftest,
  services: { api: { instances: 2 } },
  mode: 'naive',
  mitigations: {},
  baseEnv: {},
  logDir: mkdtempSync(join(tmpdir(), 'lab-faults-')),
  log: () => {},
})
// The lab's own context and clients, as a run builds them: the same pg, redis and toxiproxy the
// actions use, created on first read and closed once at the end.
const infraControl = nativeInfra(() => {})
const registry = new ClientRegistry(infraControl)
const lab = createLabContext({
  mode: 'naive',
  mitigations: {},
  clients: registry.clients,
  infra: infraControl,
  fleet,
  inject: async () => {
    throw new Error('no setup faults in this test')
  },
  log: () => {},
})
const { pg: pool, redis, toxiproxy } = lab

function context(signalOverride?: AbortSignal): FaultContext {
  return extendContext(lab, { signal: signalOverride ?? new AbortController().signal })
}

/** One GET / to the S3 server through its proxy, or straight to it (`direct`): its status and time. */
async function s3Answer(options: { direct?: boolean } = {}): Promise<{ status: number; elapsedMs: number }> {
  const began = performance.now()
  const port = options.direct ? ports.s3 : proxies.s3.listenPort
  const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) })
  await res.arrayBuffer()
  return { status: res.status, elapsedMs: performance.now() - began }
}

/** The errno under fetch's `fetch failed`, e.g. ECONNREFUSED. */
function causeCode(err: unknown): string | undefined {
  return ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code
}

before(async () => {
  await fleet.start()
})

after(async () => {
  await fleet.stopAll()
  await toxiproxy.removeLabToxics()
  await toxiproxy.setEnabled('s3', true)
  await registry.close()
})

test('a latency toxic slows the proxy by at least its latency, and its heal removes it', async () => {
  const result = await latency('s3', 300).run(context())
  try {
    const toxics = (await toxiproxy.proxies()).s3?.toxics ?? []
    assert.ok(
      toxics.some(
        (t) => t.name.startsWith('lab-latency-') && (t.attributes as { latency?: number }).latency === 300,
      ),
    )
    assert.ok((await s3Answer()).elapsedMs >= 300)
  } finally {
    await result?.heal?.('until')
  }
  assert.equal((await toxiproxy.proxies()).s3?.toxics.length, 0)
})

test('disconnect refuses connections until healed', async () => {
  const direct = await s3Answer({ direct: true })
  const result = await disconnect('s3').run(context())
  try {
    assert.equal((await toxiproxy.proxies()).s3?.enabled, false)
    await assert.rejects(s3Answer(), (err) => causeCode(err) === 'ECONNREFUSED')
  } finally {
    await result?.heal?.('until')
  }
  // Healed: the proxy listens again and forwards to the same server (the answer the server gives directly).
  assert.equal((await toxiproxy.proxies()).s3?.enabled, true)
  assert.equal((await s3Answer()).status, direct.status)
})

test('deleteKeys removes exactly the matching keys', async () => {
  const prefix = `lab:test:${randomUUID()}`
  await redis.set(`${prefix}:hot:1`, 'a')
  await redis.set(`${prefix}:hot:2`, 'b')
  await redis.set(`${prefix}:cold`, 'c')
  const result = await deleteKeys(`${prefix}:hot:*`).run(context())
  assert.equal(result?.note, '2 keys deleted')
  assert.equal(await redis.exists(`${prefix}:hot:1`, `${prefix}:hot:2`), 0)
  assert.equal(await redis.get(`${prefix}:cold`), 'c')
  await redis.del(`${prefix}:cold`)
})

test('a held reader blocks ALTER TABLE until its until; the ALTER then completes', async () => {
  const table = `lab_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  await pool.query(`CREATE TABLE ${table} (id int)`)
  try {
    const timeline = new Timeline({
      faults: [
        { at: 0, until: 1, action: sql(`SELECT * FROM ${table}`, { holdOpen: true }) },
        { at: 0.2, action: sql(`ALTER TABLE ${table} ADD COLUMN extra int`) },
      ],
      context: context(),
    })
    await timeline.start()
    await new Promise((r) => setTimeout(r, 1500))
    await timeline.stop()
    const alter = timeline.events.find((e) => e.fault === 1 && e.phase === 'inject')
    assert.equal(alter?.status, 'ok')
    assert.ok((alter?.tookMs ?? 0) >= 700, `the ALTER waited for the reader (${alter?.tookMs} ms)`)
    const heal = timeline.events.find((e) => e.fault === 0 && e.phase === 'heal')
    assert.equal(heal?.note, 'rolled back')
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${table}`)
  }
})

test('a statement still blocked at cleanup is cancelled, then the hold is rolled back', async () => {
  const table = `lab_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  await pool.query(`CREATE TABLE ${table} (id int)`)
  try {
    const timeline = new Timeline({
      faults: [
        { at: 0, until: 60, action: sql(`SELECT * FROM ${table}`, { holdOpen: true }) },
        { at: 0.1, action: sql(`ALTER TABLE ${table} ADD COLUMN extra int`) },
      ],
      context: context(),
      graceMs: 300,
    })
    void timeline.start()
    await new Promise((r) => setTimeout(r, 500))
    await timeline.stop()
    const alter = timeline.events.find((e) => e.fault === 1 && e.phase === 'inject')
    assert.equal(alter?.status, 'failed')
    assert.match(alter?.note ?? '', /cancel/)
    const heal = timeline.events.find((e) => e.fault === 0 && e.phase === 'heal')
    assert.equal(heal?.reason, 'cleanup')
    const locks = await pool.query(
      `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = $1`,
      [table],
    )
    assert.equal(locks.rows[0].n, 0, 'nothing holds a lock on the table any more')
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${table}`)
  }
})

test('pause freezes a service instance until healed; kill with until restarts it', async () => {
  const target = fleet.instance('api', 0)
  const paused = await pause(service('api', 0)).run(context())
  await assert.rejects(fetch(`${target.url}/healthz`, { signal: AbortSignal.timeout(300) }))
  await paused?.heal?.('until')
  assert.equal((await fetch(`${target.url}/healthz`)).status, 200)

  const victim = fleet.instance('api', 1)
  const oldPid = victim.pid
  const killed = await kill(service('api', 1)).run(context())
  assert.match(killed?.note ?? '', /killed api-1 pid/)
  await fleet.waitExit(victim)
  assert.equal(await killed?.heal?.('cleanup'), undefined, 'no restart at cleanup')
  assert.equal(victim.alive, false)
  assert.equal(await killed?.heal?.('until'), 'restarted api-1')
  assert.notEqual(victim.pid, oldPid)
  assert.equal((await fetch(`${victim.url}/healthz`)).status, 200)
})

test('stop ends a paused instance too (SIGCONT before SIGTERM), and its heal restarts it', async () => {
  const target = fleet.instance('api', 0)
  const oldPid = target.pid
  await pause(service('api', 0)).run(context())
  const began = performance.now()
  const stopped = await stop(service('api', 0)).run(context())
  // A SIGTERM alone stays pending on a stopped process: the fault waited for an exit that never came.
  assert.ok(performance.now() - began < 4000, `stopped in ${Math.round(performance.now() - began)} ms`)
  assert.equal(target.alive, false)
  assert.equal(await stopped?.heal?.('until'), 'restarted api-0')
  assert.notEqual(target.pid, oldPid)
  assert.equal((await fetch(`${target.url}/healthz`)).status, 200)
})

test('a signal to an infra component finds its pid through the infra status', async () => {
  const result = await signal(infra('redis-cache'), 'SIGCONT').run(context())
  assert.match(result?.note ?? '', /^redis-cache pid \d+$/)
})
