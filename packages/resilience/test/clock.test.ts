import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ManualClock, sleeper } from '../src/index.ts'
import { settledState } from './helpers.ts'

test('ManualClock fires due timers in order and moves now to each one', async () => {
  const clock = new ManualClock(1000)
  const fired: Array<[string, number]> = []
  clock.setTimer(30, () => fired.push(['b', clock.now()]))
  clock.setTimer(10, () => fired.push(['a', clock.now()]))
  const cancel = clock.setTimer(20, () => fired.push(['cancelled', clock.now()]))
  clock.setTimer(50, () => fired.push(['late', clock.now()]))
  cancel()
  await clock.advance(40)
  assert.deepEqual(fired, [
    ['a', 1010],
    ['b', 1030],
  ])
  assert.equal(clock.now(), 1040)
  assert.equal(clock.pendingTimers, 1)
})

test('sleeper resolves after the delay on the injected clock and rejects on abort', async () => {
  const clock = new ManualClock()
  const sleep = sleeper(clock)
  const done = sleep(100)
  await clock.advance(99)
  assert.equal(await settledState(done), 'pending')
  await clock.advance(1)
  assert.equal(await settledState(done), 'fulfilled')

  const controller = new AbortController()
  const aborted = sleep(100, controller.signal)
  const reason = new Error('stop')
  controller.abort(reason)
  await assert.rejects(aborted, (err) => err === reason)
  assert.equal(clock.pendingTimers, 0)
})
