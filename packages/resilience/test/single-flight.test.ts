import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SingleFlight } from '../src/index.ts'
import { deferred } from './helpers.ts'

test('concurrent calls for one key share one execution', async () => {
  const flight = new SingleFlight<string, string>()
  const db = deferred<string>()
  let queries = 0
  const load = () => {
    queries++
    return db.promise
  }
  const callers = [flight.do('hot', load), flight.do('hot', load), flight.do('hot', load)]
  const other = flight.do('cold', async () => 'other value')
  db.resolve('value')
  assert.deepEqual(await Promise.all(callers), ['value', 'value', 'value'])
  assert.equal(await other, 'other value')
  assert.equal(queries, 1)
  assert.deepEqual(flight.stats(), { leaders: 2, followers: 2, bypassed: 0, inFlight: 0 })
})

test('a failure is shared by every caller of the flight and releases the key', async () => {
  const flight = new SingleFlight<string, string>()
  const db = deferred<string>()
  const callers = [flight.do('k', () => db.promise), flight.do('k', () => db.promise)]
  const err = new Error('db timeout')
  db.reject(err)
  for (const caller of callers) await assert.rejects(caller, (e) => e === err)
  assert.equal(flight.has('k'), false)

  let calls = 0
  const retried = await flight.do('k', async () => {
    calls++
    return 'recovered'
  })
  assert.equal(retried, 'recovered')
  assert.equal(calls, 1, 'the next call runs fn again')
})

test('a synchronous throw is a shared rejection too', async () => {
  const flight = new SingleFlight<string, string>()
  await assert.rejects(
    flight.do('k', () => {
      throw new Error('sync')
    }),
    /sync/,
  )
  assert.equal(flight.has('k'), false)
})

test('enabled:false runs fn for every caller', async () => {
  const run = async (enabled: boolean) => {
    const flight = new SingleFlight<string, number>({ enabled })
    const db = deferred<number>()
    let queries = 0
    const load = () => {
      queries++
      return db.promise
    }
    const callers = [flight.do('hot', load), flight.do('hot', load), flight.do('hot', load)]
    db.resolve(7)
    assert.deepEqual(await Promise.all(callers), [7, 7, 7])
    return { queries, stats: flight.stats() }
  }
  const off = await run(false)
  assert.equal(off.queries, 3)
  assert.deepEqual(off.stats, { leaders: 0, followers: 0, bypassed: 3, inFlight: 0 })
  assert.equal((await run(true)).queries, 1)
})

test('forget lets a new flight start; the old one finishing does not release the new one', async () => {
  const events: string[] = []
  const flight = new SingleFlight<string, string>({ onEvent: (e) => events.push(e.role) })
  const first = deferred<string>()
  const second = deferred<string>()
  const a = flight.do('k', () => first.promise)
  flight.forget('k')
  const b = flight.do('k', () => second.promise)
  first.resolve('first')
  assert.equal(await a, 'first')
  assert.equal(flight.has('k'), true)
  const c = flight.do('k', () => Promise.resolve('never runs'))
  second.resolve('second')
  assert.deepEqual(await Promise.all([b, c]), ['second', 'second'])
  assert.deepEqual(events, ['leader', 'leader', 'follower'])
})
