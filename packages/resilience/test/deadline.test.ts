import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Deadline, DeadlineExceededError, ifStillTime, ManualClock, TimeoutError } from '../src/index.ts'
import { never, settledState } from './helpers.ts'

test('remainingMs counts down on the clock and never goes negative', async () => {
  const clock = new ManualClock()
  const deadline = Deadline.after(500, { clock })
  assert.equal(deadline.remainingMs(), 500)
  await clock.advance(200)
  assert.equal(deadline.remainingMs(), 300)
  assert.equal(deadline.isExpired(), false)
  await clock.advance(400)
  assert.equal(deadline.remainingMs(), 0)
  assert.equal(deadline.isExpired(), true)
  assert.throws(() => deadline.throwIfExpired(), DeadlineExceededError)
})

test('the signal aborts with DeadlineExceededError at expiry, not before', async () => {
  const clock = new ManualClock()
  const deadline = Deadline.after(500, { clock })
  const { signal } = deadline
  await clock.advance(499)
  assert.equal(signal.aborted, false)
  await clock.advance(1)
  assert.equal(signal.aborted, true)
  assert.ok(signal.reason instanceof DeadlineExceededError)
  assert.ok(signal.reason instanceof TimeoutError, 'one instanceof TimeoutError catches both')
  assert.equal(signal.reason.code, 'RESILIENCE_ERR_DEADLINE_EXCEEDED')
})

test('a child never outlives its parent and is cancelled with it', async () => {
  const clock = new ManualClock()
  const client = new AbortController()
  const parent = Deadline.after(300, { clock, signal: client.signal })
  assert.equal(parent.child(100).remainingMs(), 100)
  const longChild = parent.child(10_000)
  assert.equal(longChild.remainingMs(), 300)

  const child = parent.child(200)
  const childSignal = child.signal
  const reason = new Error('client disconnected')
  client.abort(reason)
  assert.equal(childSignal.reason, reason)
  assert.equal(child.isExpired(), true)
  assert.throws(
    () => child.throwIfExpired(),
    (err) => err === reason,
  )
})

test('a child whose parent expires first aborts with the parent', async () => {
  const clock = new ManualClock()
  const parent = Deadline.after(100, { clock })
  await clock.advance(50)
  const child = parent.child(1000)
  const { signal } = child
  await clock.advance(50)
  assert.equal(signal.aborted, true)
  assert.ok(signal.reason instanceof DeadlineExceededError)
})

test('enabled:false and never() give a deadline that does not expire', async () => {
  const clock = new ManualClock()
  const off = Deadline.after(100, { clock, enabled: false })
  const on = Deadline.after(100, { clock, enabled: true })
  const offSignal = off.signal
  const onSignal = on.signal
  await clock.advance(1_000_000)
  assert.equal(off.isExpired(), false)
  assert.equal(off.remainingMs(), Number.POSITIVE_INFINITY)
  assert.equal(offSignal.aborted, false)
  assert.equal(onSignal.aborted, true)
  assert.equal(Deadline.never({ clock }).isExpired(), false)
})

test('ifStillTime drops work past its deadline without starting it', async () => {
  const clock = new ManualClock()
  const deadline = Deadline.after(100, { clock })
  await clock.advance(100)
  let calls = 0
  let drops = 0
  await assert.rejects(
    ifStillTime(
      deadline,
      () => {
        calls++
        return 'answer nobody waits for'
      },
      { onDrop: () => drops++ },
    ),
    DeadlineExceededError,
  )
  assert.equal(calls, 0)
  assert.equal(drops, 1)
})

test('ifStillTime with enabled:false does the work however late (the naive server)', async () => {
  const clock = new ManualClock()
  const deadline = Deadline.after(100, { clock })
  await clock.advance(500)
  assert.equal(await ifStillTime(deadline, () => 'done anyway', { enabled: false }), 'done anyway')
})

test('ifStillTime drops work when less than minRemainingMs is left', async () => {
  const clock = new ManualClock()
  const deadline = Deadline.after(100, { clock })
  await clock.advance(60)
  await assert.rejects(
    ifStillTime(deadline, () => 1, { minRemainingMs: 50 }),
    DeadlineExceededError,
  )
  assert.equal(await ifStillTime(deadline, () => 2, { minRemainingMs: 10 }), 2)
})

test('ifStillTime rejects and aborts the work when the deadline passes mid-way', async () => {
  const clock = new ManualClock()
  const deadline = Deadline.after(100, { clock })
  let seen: AbortSignal | undefined
  const work = ifStillTime(deadline, (signal) => {
    seen = signal
    return never()
  })
  await clock.advance(99)
  assert.equal(await settledState(work), 'pending')
  await clock.advance(1)
  await assert.rejects(work, DeadlineExceededError)
  assert.equal(seen?.aborted, true)
})

test('ifStillTime without a deadline just runs the work', async () => {
  assert.equal(await ifStillTime(undefined, () => 'ok'), 'ok')
})
