import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { ClickRecorder, type DropReason } from '../src/clicks/recorder.ts'
import { type ClickEvent, ClickSpool } from '../src/clicks/spool.ts'

const event = (i: number): ClickEvent => ({ producer: 'p', seq: i, code: `c${i % 3}`, ts: i })

test('the spool is a bounded FIFO that refuses the newest event when full', () => {
  const spool = new ClickSpool(3)
  assert.equal(spool.push(event(1)), true)
  assert.equal(spool.push(event(2)), true)
  assert.equal(spool.push(event(3)), true)
  assert.equal(spool.push(event(4)), false)
  assert.equal(spool.size, 3)
  assert.deepEqual(
    spool.peek(2).map((e) => e.seq),
    [1, 2],
  )
  spool.remove(2)
  assert.equal(spool.push(event(5)), true)
  assert.equal(spool.push(event(6)), true)
  assert.deepEqual(
    spool.peek(10).map((e) => e.seq),
    [3, 5, 6],
  )
  spool.remove(10)
  assert.equal(spool.size, 0)
  assert.deepEqual(spool.peek(5), [])
})

/** A stand-in for the producer's send: records batches, fails while `down` is true. */
function fakeBroker() {
  const state = { down: false, batches: [] as ClickEvent[][] }
  const send = async (events: ClickEvent[]) => {
    await sleep(1)
    if (state.down) throw new Error('broker unavailable')
    state.batches.push(events)
  }
  return { state, send, delivered: () => state.batches.flat() }
}

function counting() {
  const dropped: Record<DropReason, number> = { spool_full: 0, spool_error: 0, send_failed: 0, shutdown: 0 }
  let recorded = 0
  let published = 0
  return {
    dropped,
    totals: () => ({ recorded, published }),
    hooks: {
      onRecorded: () => {
        recorded++
      },
      onPublished: (n: number) => {
        published += n
      },
      onDropped: (n: number, reason: DropReason) => {
        dropped[reason] += n
      },
    },
  }
}

test('hardened (clickSpool on): events wait out an outage up to the bound; overflow is counted, never silent', async () => {
  const broker = fakeBroker()
  const counts = counting()
  const recorder = new ClickRecorder({
    send: broker.send,
    mitigations: { clickSpool: true },
    spoolMax: 100,
    batchMax: 40,
    flushIntervalMs: 5,
    retryBaseMs: 5,
    retryMaxMs: 20,
    hooks: counts.hooks,
  })
  recorder.start()
  broker.state.down = true
  for (let i = 0; i < 150; i++) recorder.record('abc')
  await sleep(50)
  assert.equal(recorder.spool.size, 100, 'the spool holds up to its bound during the outage')
  assert.equal(counts.dropped.spool_full, 50)
  broker.state.down = false
  while (recorder.spool.size > 0) await sleep(5)
  await recorder.stop(1000)
  assert.equal(broker.delivered().length, 100)
  assert.deepEqual(
    broker.delivered().map((e) => e.seq),
    Array.from({ length: 100 }, (_, k) => k),
    'the events kept are numbered 0…99, without the 50 refused ones',
  )
  const { recorded, published } = counts.totals()
  assert.equal(recorded, 150)
  assert.equal(
    published + counts.dropped.spool_full + counts.dropped.send_failed + counts.dropped.shutdown,
    recorded,
  )
  assert.ok(broker.state.batches.every((b) => b.length <= 40))
})

test('naive (clickSpool off): a failed batch is dropped and counted as send_failed', async () => {
  const broker = fakeBroker()
  const counts = counting()
  const recorder = new ClickRecorder({
    send: broker.send,
    mitigations: { clickSpool: false },
    spoolMax: 1000,
    batchMax: 10,
    flushIntervalMs: 5,
    retryBaseMs: 5,
    retryMaxMs: 10,
    hooks: counts.hooks,
  })
  recorder.start()
  broker.state.down = true
  for (let i = 0; i < 35; i++) recorder.record('abc')
  while (recorder.spool.size > 0) await sleep(5)
  broker.state.down = false
  for (let i = 0; i < 5; i++) recorder.record('abc')
  while (recorder.spool.size > 0) await sleep(5)
  await recorder.stop(1000)
  assert.equal(counts.dropped.send_failed, 35)
  assert.equal(broker.delivered().length, 5)
  assert.equal(counts.totals().published, 5)
})

test('the switch is read live: flipping clickSpool on keeps the next failed batches', async () => {
  const broker = fakeBroker()
  const mitigations = { clickSpool: false }
  const recorder = new ClickRecorder({
    send: broker.send,
    mitigations,
    spoolMax: 100,
    batchMax: 10,
    flushIntervalMs: 5,
    retryBaseMs: 5,
  })
  recorder.start()
  broker.state.down = true
  mitigations.clickSpool = true
  for (let i = 0; i < 20; i++) recorder.record('abc')
  await sleep(40)
  assert.equal(recorder.spool.size, 20)
  assert.equal(recorder.dropped, 0)
  broker.state.down = false
  while (recorder.spool.size > 0) await sleep(5)
  await recorder.stop()
  assert.equal(recorder.published, 20)
})

test('stop() publishes what is left, then counts the rest as dropped(shutdown) at the deadline', async () => {
  const broker = fakeBroker()
  const counts = counting()
  const recorder = new ClickRecorder({
    send: broker.send,
    mitigations: { clickSpool: true },
    spoolMax: 100,
    batchMax: 10,
    flushIntervalMs: 1000,
    retryBaseMs: 5,
    hooks: counts.hooks,
  })
  recorder.start()
  for (let i = 0; i < 7; i++) recorder.record('abc')
  await recorder.stop(1000)
  assert.equal(broker.delivered().length, 7, 'a graceful stop flushes the spool')

  const stuck = new ClickRecorder({
    send: () => new Promise<void>(() => {}),
    mitigations: { clickSpool: true },
    spoolMax: 100,
    flushIntervalMs: 1,
    hooks: counts.hooks,
  })
  stuck.start()
  for (let i = 0; i < 4; i++) stuck.record('abc')
  await sleep(10)
  await stuck.stop(50)
  assert.equal(counts.dropped.shutdown, 4)
  assert.equal(stuck.spool.size, 0)
})

test('record() never waits: it returns before any send settles', () => {
  const recorder = new ClickRecorder({
    send: () => new Promise<void>(() => {}),
    mitigations: { clickSpool: true },
    spoolMax: 10,
  })
  recorder.start()
  recorder.record('abc')
  assert.equal(recorder.spool.size, 1)
  void recorder.stop(0)
})
