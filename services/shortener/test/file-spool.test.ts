import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { FileClickSpool } from '../src/clicks/file-spool.ts'
import { ClickRecorder } from '../src/clicks/recorder.ts'
import type { ClickEvent } from '../src/clicks/spool.ts'

const event = (i: number): ClickEvent => ({
  producer: '00000000-0000-4000-8000-000000000001',
  seq: i,
  code: 'abc',
  ts: i,
})
const ids = (events: ClickEvent[]) => events.map((e) => e.ts)

function tempDir(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'click-spool-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('unpublished events survive a reopen, in order; published ones do not come back', (t) => {
  const dir = tempDir(t)
  const spool = new FileClickSpool({ dir, capacity: 100, segmentEvents: 10 })
  for (let i = 1; i <= 35; i++) assert.equal(spool.push(event(i)), true)
  assert.deepEqual(ids(spool.peek(3)), [1, 2, 3])
  spool.remove(23)
  spool.close()
  // Segments 1 and 2 (events 1-20) were fully published and deleted.
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('segment-')).length, 2)

  const reopened = new FileClickSpool({ dir, capacity: 100, segmentEvents: 10 })
  assert.equal(reopened.recovered, 12)
  assert.equal(reopened.size, 12)
  assert.deepEqual(
    ids(reopened.peek(100)),
    Array.from({ length: 12 }, (_, k) => 24 + k),
  )
  reopened.push(event(36))
  reopened.remove(13)
  reopened.close()
  const third = new FileClickSpool({ dir, capacity: 100, segmentEvents: 10 })
  assert.equal(third.size, 0)
  third.close()
})

test('the bound holds, and a torn last line (a crash mid-write) is skipped, not fatal', (t) => {
  const dir = tempDir(t)
  const spool = new FileClickSpool({ dir, capacity: 5 })
  for (let i = 1; i <= 7; i++) spool.push(event(i))
  assert.equal(spool.size, 5)
  spool.close()
  const segment = readdirSync(dir).find((f) => f.startsWith('segment-')) as string
  appendFileSync(join(dir, segment), '{"producer":"00000000-0000-4000-8000-0000')
  const reopened = new FileClickSpool({ dir, capacity: 5 })
  assert.equal(reopened.corruptLines, 1)
  assert.deepEqual(ids(reopened.peek(10)), [1, 2, 3, 4, 5])
  assert.equal(reopened.push(event(8)), false, 'still full')
  reopened.remove(5)
  assert.equal(reopened.push(event(9)), true)
  reopened.close()
  const again = new FileClickSpool({ dir, capacity: 5 })
  assert.deepEqual(ids(again.peek(10)), [9])
  again.close()
})

test('kill -9 right after the events were accepted loses none of them', (t) => {
  const dir = tempDir(t)
  const child = `
    import { FileClickSpool } from ${JSON.stringify(new URL('../src/clicks/file-spool.ts', import.meta.url).href)}
    const spool = new FileClickSpool({ dir: ${JSON.stringify(dir)}, capacity: 10000, segmentEvents: 300 })
    for (let i = 1; i <= 1000; i++) spool.push({ producer: 'p', seq: i, code: 'abc', ts: i })
    spool.remove(100)
    process.kill(process.pid, 'SIGKILL')
  `
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', child], { encoding: 'utf8' })
  assert.equal(result.signal, 'SIGKILL', result.stderr)
  const spool = new FileClickSpool({ dir, capacity: 10000 })
  assert.equal(spool.recovered, 900)
  assert.equal(spool.peek(1)[0]?.ts, 101)
  spool.close()
})

test('with a durable spool, stop() leaves unpublished events on disk instead of dropping them', async (t) => {
  const dir = tempDir(t)
  let dropped = 0
  const recorder = new ClickRecorder({
    send: () => Promise.reject(new Error('kafka down')),
    mitigations: { clickSpool: true },
    spoolMax: 100,
    spool: new FileClickSpool({ dir, capacity: 100 }),
    retryBaseMs: 5,
    hooks: {
      onDropped: (n) => {
        dropped += n
      },
    },
  })
  recorder.start()
  for (let i = 0; i < 10; i++) recorder.record('abc')
  await recorder.stop(50)
  assert.equal(dropped, 0)
  const reopened = new FileClickSpool({ dir, capacity: 100 })
  assert.equal(reopened.recovered, 10)
  reopened.close()
})

test("after a restart the previous process's events go out first, in batches of their own recorder", async (t) => {
  const dir = tempDir(t)
  const down = new ClickRecorder({
    send: () => Promise.reject(new Error('kafka down')),
    mitigations: { clickSpool: true },
    spoolMax: 100,
    spool: new FileClickSpool({ dir, capacity: 100 }),
    retryBaseMs: 5,
  })
  down.start()
  for (let i = 0; i < 7; i++) down.record('old')
  await down.stop(20)

  const batches: ClickEvent[][] = []
  const next = new ClickRecorder({
    send: async (events) => {
      batches.push(events)
    },
    mitigations: { clickSpool: true },
    spoolMax: 100,
    spool: new FileClickSpool({ dir, capacity: 100 }),
    batchMax: 50,
    flushIntervalMs: 1000,
  })
  for (let i = 0; i < 3; i++) next.record('new')
  await next.flushOnce()
  await next.flushOnce()
  await next.stop(100)
  assert.deepEqual(
    batches.map((b) => ({ codes: b.map((e) => e.code), seqs: b.map((e) => e.seq) })),
    [
      { codes: Array(7).fill('old'), seqs: [0, 1, 2, 3, 4, 5, 6] },
      { codes: ['new', 'new', 'new'], seqs: [0, 1, 2] },
    ],
  )
  const [old, fresh] = batches as [ClickEvent[], ClickEvent[]]
  assert.notEqual(old[0]?.producer, fresh[0]?.producer, 'each process start is a recorder of its own')
})
