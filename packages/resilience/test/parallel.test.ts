import assert from 'node:assert/strict'
import { test } from 'node:test'
import { inParallel } from '../src/index.ts'
import { deferred, settledState } from './helpers.ts'

test('inParallel keeps at most `concurrency` calls in flight and returns results in index order', async () => {
  let inFlight = 0
  let maxInFlight = 0
  const results = await inParallel(10, 3, async (i) => {
    inFlight += 1
    maxInFlight = Math.max(maxInFlight, inFlight)
    // Later indexes finish first, so order by completion would differ from index order.
    await new Promise((resolve) => setTimeout(resolve, 10 - i))
    inFlight -= 1
    return i * 2
  })
  assert.deepEqual(results, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18])
  assert.equal(maxInFlight, 3)
})

test('inParallel starts nothing after a failure and rejects once the calls in flight settled', async () => {
  const started: number[] = []
  const slow = deferred<void>()
  let slowSettled = false
  const run = inParallel(10, 2, async (i) => {
    started.push(i)
    if (i === 0) {
      await slow.promise
      slowSettled = true
    }
    if (i === 1) throw new Error('boom')
  })
  assert.equal(await settledState(run), 'pending')
  slow.resolve()
  await assert.rejects(run, /boom/)
  assert.ok(slowSettled)
  assert.deepEqual(started, [0, 1])
})

test('inParallel with nothing to do resolves with no results; a concurrency below 1 is refused', async () => {
  assert.deepEqual(await inParallel(0, 4, async () => 1), [])
  await assert.rejects(
    inParallel(3, 0, async () => 1),
    RangeError,
  )
})
