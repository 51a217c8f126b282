import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Bulkhead, BulkheadFullError } from '../src/index.ts'
import { deferred, settledState } from './helpers.ts'

/** A job the test finishes by hand, recording when it started. */
function jobs() {
  const started: string[] = []
  const gates = new Map<string, ReturnType<typeof deferred<string>>>()
  const job = (name: string) => () => {
    started.push(name)
    const gate = deferred<string>()
    gates.set(name, gate)
    return gate.promise
  }
  const finish = (name: string) => gates.get(name)?.resolve(name)
  const fail = (name: string) => gates.get(name)?.reject(new Error(name))
  return { started, job, finish, fail }
}

test('runs maxConcurrent calls, queues maxQueue more, rejects the rest', async () => {
  const bulkhead = new Bulkhead({ name: 'cold-path', maxConcurrent: 2, maxQueue: 1 })
  const { started, job, finish } = jobs()
  const a = bulkhead.run(job('a'))
  const b = bulkhead.run(job('b'))
  const c = bulkhead.run(job('c'))
  await assert.rejects(
    bulkhead.run(job('d')),
    (err) => err instanceof BulkheadFullError && err.code === 'RESILIENCE_ERR_BULKHEAD_FULL',
  )
  assert.deepEqual(started, ['a', 'b'])
  assert.deepEqual(bulkhead.stats(), { enabled: true, active: 2, queued: 1, admitted: 2, rejected: 1 })

  finish('a')
  assert.equal(await a, 'a')
  await settledState(c)
  assert.deepEqual(started, ['a', 'b', 'c'], 'the queued call takes the freed slot')
  finish('b')
  finish('c')
  assert.deepEqual(await Promise.all([b, c]), ['b', 'c'])
  assert.equal(bulkhead.stats().active, 0)
})

test('a failing call frees its slot', async () => {
  const bulkhead = new Bulkhead({ maxConcurrent: 1 })
  const { job, fail, finish } = jobs()
  const a = bulkhead.run(job('a'))
  await assert.rejects(bulkhead.run(job('b')), BulkheadFullError)
  fail('a')
  await assert.rejects(a, /a/)
  const c = bulkhead.run(job('c'))
  finish('c')
  assert.equal(await c, 'c')
})

test('a queued call whose signal aborts leaves the queue', async () => {
  const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1 })
  const { started, job, finish } = jobs()
  const a = bulkhead.run(job('a'))
  const caller = new AbortController()
  const b = bulkhead.run(job('b'), { signal: caller.signal })
  caller.abort(new Error('deadline passed while queued'))
  await assert.rejects(b, /deadline passed/)
  assert.equal(bulkhead.stats().queued, 0)
  const c = bulkhead.run(job('c'))
  finish('a')
  await a
  await settledState(c)
  assert.deepEqual(started, ['a', 'c'], 'the aborted call never ran')
  finish('c')
  await c
})

test('enabled:false admits everything at once', async () => {
  const run = async (enabled: boolean) => {
    const bulkhead = new Bulkhead({ maxConcurrent: 2, maxQueue: 0, enabled })
    const { started, job, finish } = jobs()
    const names = ['a', 'b', 'c', 'd', 'e']
    const calls = names.map((name) => bulkhead.run(job(name)).catch((err: unknown) => err))
    const concurrent = started.length
    for (const name of names) finish(name)
    const results = await Promise.all(calls)
    return { concurrent, rejected: results.filter((r) => r instanceof BulkheadFullError).length }
  }
  assert.deepEqual(await run(false), { concurrent: 5, rejected: 0 })
  assert.deepEqual(await run(true), { concurrent: 2, rejected: 3 })
})

test('switching it off at run time starts every queued call', async () => {
  const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 5 })
  const { started, job, finish } = jobs()
  const calls = ['a', 'b', 'c'].map((name) => bulkhead.run(job(name)))
  await settledState(calls[2] as Promise<string>)
  assert.deepEqual(started, ['a'])
  bulkhead.enabled = false
  await settledState(calls[2] as Promise<string>)
  assert.deepEqual(started, ['a', 'b', 'c'])
  for (const name of started) finish(name)
  await Promise.all(calls)
  assert.equal(bulkhead.stats().active, 0)
})

test('raising maxConcurrent at run time starts queued calls', async () => {
  const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 5 })
  const { started, job, finish } = jobs()
  const calls = ['a', 'b', 'c'].map((name) => bulkhead.run(job(name)))
  await settledState(calls[2] as Promise<string>)
  bulkhead.maxConcurrent = 2
  await settledState(calls[2] as Promise<string>)
  assert.deepEqual(started, ['a', 'b'])
  for (const name of ['a', 'b', 'c']) {
    await settledState(calls[2] as Promise<string>)
    finish(name)
  }
  assert.deepEqual(await Promise.all(calls), ['a', 'b', 'c'])
})
