import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Deadline, DeadlineExceededError, ManualClock, TimeoutError, withTimeout } from '../src/index.ts'
import { deferred, never, settledState } from './helpers.ts'

test('resolves with the value of a call that finishes in time and clears its timer', async () => {
  const clock = new ManualClock()
  const answer = deferred<string>()
  const result = withTimeout(() => answer.promise, 100, { clock })
  await clock.advance(99)
  answer.resolve('ok')
  assert.equal(await result, 'ok')
  assert.equal(clock.pendingTimers, 0)
})

test('rejects with TimeoutError after ms and aborts the signal given to fn', async () => {
  const clock = new ManualClock()
  let seen: AbortSignal | undefined
  const result = withTimeout(
    (signal) => {
      seen = signal
      return never()
    },
    100,
    { clock },
  )
  await clock.advance(99)
  assert.equal(await settledState(result), 'pending')
  assert.equal(seen?.aborted, false)
  await clock.advance(1)
  await assert.rejects(result, (err) => err instanceof TimeoutError && err.timeoutMs === 100)
  assert.equal(seen?.aborted, true)
  assert.ok(seen?.reason instanceof TimeoutError)
})

test('enabled:false never rejects, however long the call hangs', async () => {
  const clock = new ManualClock()
  const hanging = withTimeout(() => never(), 100, { clock, enabled: false })
  assert.equal(clock.pendingTimers, 0)
  await clock.advance(1_000_000)
  assert.equal(await settledState(hanging), 'pending')

  // The same call with the switch on does reject: the toggle is what made the difference.
  const limited = withTimeout(() => never(), 100, { clock, enabled: true })
  const rejected = assert.rejects(limited, TimeoutError)
  await clock.advance(100)
  await rejected
})

test("the caller's signal aborts the call with its reason", async () => {
  const clock = new ManualClock()
  const caller = new AbortController()
  let seen: AbortSignal | undefined
  const result = withTimeout(
    (signal) => {
      seen = signal
      return never()
    },
    100,
    { clock, signal: caller.signal },
  )
  const reason = new Error('client went away')
  caller.abort(reason)
  await assert.rejects(result, (err) => err === reason)
  assert.equal(seen?.reason, reason)
  assert.equal(clock.pendingTimers, 0)
})

test('no time or an aborted signal rejects without calling fn; a sync throw becomes a rejection', async () => {
  let calls = 0
  const fn = () => {
    calls++
    return 1
  }
  await assert.rejects(withTimeout(fn, 0), TimeoutError)
  await assert.rejects(withTimeout(fn, 100, { signal: AbortSignal.abort(new Error('gone')) }), /gone/)
  assert.equal(calls, 0)
  const boom = new Error('boom')
  await assert.rejects(
    withTimeout(() => {
      throw boom
    }, 100),
    (err) => err === boom,
  )
})

test('a late rejection of a timed-out call is swallowed, not reported as unhandled', async () => {
  const clock = new ManualClock()
  const answer = deferred<number>()
  const result = withTimeout(() => answer.promise, 10, { clock })
  const rejected = assert.rejects(result, TimeoutError)
  await clock.advance(10)
  await rejected
  answer.reject(new Error('late'))
  await new Promise((resolve) => setImmediate(resolve))
})

test('works on the real clock by default (a 5 ms timeout, a 5 ms deadline)', async () => {
  await assert.rejects(
    withTimeout(() => never(), 5),
    TimeoutError,
  )
  const deadline = Deadline.after(5)
  const { signal } = deadline
  await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
  assert.ok(signal.reason instanceof DeadlineExceededError)
})
