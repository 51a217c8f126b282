import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  CircuitBreaker,
  type CircuitBreakerOptions,
  CircuitOpenError,
  type CircuitStateChange,
  ManualClock,
} from '../src/index.ts'
import { deferred } from './helpers.ts'

const boom = new Error('dependency down')
const fail = async () => {
  throw boom
}
const succeed = async () => 'ok'

function breaker(options: CircuitBreakerOptions = {}) {
  const clock = new ManualClock()
  const changes: CircuitStateChange[] = []
  const cb = new CircuitBreaker({
    name: 'db',
    clock,
    minimumRequests: 10,
    failureRateThreshold: 0.5,
    openMs: 1000,
    onStateChange: (change) => changes.push(change),
    ...options,
  })
  const transitions = () => changes.map((c) => `${c.from}→${c.to} (${c.reason})`)
  return { clock, cb, transitions }
}

/** Runs `fn` through the breaker and returns what happened, without throwing. */
async function outcome(
  cb: CircuitBreaker,
  fn: () => Promise<unknown>,
): Promise<'ok' | 'failed' | 'rejected'> {
  try {
    await cb.execute(fn)
    return 'ok'
  } catch (err) {
    return err instanceof CircuitOpenError ? 'rejected' : 'failed'
  }
}

test('opens on the failure rate only once the window holds minimumRequests calls', async () => {
  const { cb, transitions } = breaker()
  for (let i = 0; i < 5; i++) await outcome(cb, succeed)
  for (let i = 0; i < 4; i++) assert.equal(await outcome(cb, fail), 'failed')
  assert.equal(cb.state, 'closed', '4 of 9 failed: below the volume')
  assert.equal(await outcome(cb, fail), 'failed')
  assert.equal(cb.state, 'open', '5 of 10 failed: 50%')
  assert.deepEqual(transitions(), ['closed→open (failure-rate)'])
})

test('open rejects fast with CircuitOpenError without calling the dependency', async () => {
  const { cb, clock } = breaker({ consecutiveFailures: 3 })
  for (let i = 0; i < 3; i++) await outcome(cb, fail)
  assert.equal(cb.state, 'open')
  await clock.advance(400)
  let calls = 0
  await assert.rejects(
    cb.execute(async () => {
      calls++
    }),
    (err) =>
      err instanceof CircuitOpenError &&
      err.retryAfterMs === 600 &&
      err.code === 'RESILIENCE_ERR_CIRCUIT_OPEN',
  )
  assert.equal(calls, 0)
  assert.equal(cb.stats().rejected, 1)
})

test('N consecutive failures open it even below the minimum volume', async () => {
  const { cb, transitions } = breaker({ consecutiveFailures: 3, minimumRequests: 100 })
  await outcome(cb, fail)
  await outcome(cb, fail)
  await outcome(cb, succeed) // Resets the streak.
  await outcome(cb, fail)
  await outcome(cb, fail)
  assert.equal(cb.state, 'closed')
  await outcome(cb, fail)
  assert.equal(cb.state, 'open')
  assert.deepEqual(transitions(), ['closed→open (consecutive-failures)'])
})

test('closed → open → half-open → closed, letting exactly K trial calls through', async () => {
  const { cb, clock, transitions } = breaker({ consecutiveFailures: 2, halfOpenMaxCalls: 2 })
  await outcome(cb, fail)
  await outcome(cb, fail)
  await clock.advance(999)
  assert.equal(cb.state, 'open')
  await clock.advance(1)
  assert.equal(cb.state, 'half-open')

  const trial1 = deferred<string>()
  const trial2 = deferred<string>()
  const first = cb.execute(() => trial1.promise)
  const second = cb.execute(() => trial2.promise)
  assert.equal(await outcome(cb, succeed), 'rejected', 'a third concurrent trial is refused')
  trial1.resolve('a')
  trial2.resolve('b')
  assert.deepEqual(await Promise.all([first, second]), ['a', 'b'])
  assert.equal(cb.state, 'closed')
  assert.deepEqual(transitions(), [
    'closed→open (consecutive-failures)',
    'open→half-open (open-elapsed)',
    'half-open→closed (trials-succeeded)',
  ])
  assert.equal(cb.stats().windowCalls, 0, 'closing starts a fresh window')
})

test('half-open → open again when a trial fails, for another openMs', async () => {
  const { cb, clock, transitions } = breaker({ consecutiveFailures: 1 })
  await outcome(cb, fail)
  await clock.advance(1000)
  assert.equal(await outcome(cb, fail), 'failed', 'the trial reaches the dependency')
  assert.equal(cb.state, 'open')
  await clock.advance(999)
  assert.equal(await outcome(cb, succeed), 'rejected')
  await clock.advance(1)
  assert.equal(await outcome(cb, succeed), 'ok')
  assert.deepEqual(transitions(), [
    'closed→open (consecutive-failures)',
    'open→half-open (open-elapsed)',
    'half-open→open (trial-failed)',
    'open→half-open (open-elapsed)',
    'half-open→closed (trials-succeeded)',
  ])
})

test('failures older than the rolling window stop counting', async () => {
  const { cb, clock } = breaker({ windowMs: 10_000, windowBuckets: 10 })
  for (let i = 0; i < 9; i++) await outcome(cb, fail)
  await clock.advance(10_000)
  assert.equal(cb.stats().windowCalls, 0)
  await outcome(cb, fail)
  assert.equal(cb.state, 'closed', '1 call in the window: below the volume')
})

test('errors that isFailure rejects count as successes', async () => {
  const { cb } = breaker({ consecutiveFailures: 2, isFailure: (err) => err !== boom })
  for (let i = 0; i < 5; i++) assert.equal(await outcome(cb, fail), 'failed')
  assert.equal(cb.state, 'closed')
})

test('enabled:false is always closed and never rejects', async () => {
  const off = breaker({ enabled: false, consecutiveFailures: 2 })
  let calls = 0
  const counted = async () => {
    calls++
    throw boom
  }
  for (let i = 0; i < 10; i++) assert.equal(await outcome(off.cb, counted), 'failed')
  assert.equal(calls, 10, 'every call reached the dependency')
  assert.equal(off.cb.state, 'closed')
  assert.deepEqual(off.transitions(), [])

  // The same sequence with the switch on is cut short: the toggle is what made the difference.
  const on = breaker({ enabled: true, consecutiveFailures: 2 })
  calls = 0
  for (let i = 0; i < 10; i++) await outcome(on.cb, counted)
  assert.equal(calls, 2)
})

test('switching it off at run time lets calls through an open breaker; back on starts closed', async () => {
  const { cb } = breaker({ consecutiveFailures: 1 })
  await outcome(cb, fail)
  assert.equal(await outcome(cb, succeed), 'rejected')
  cb.enabled = false
  assert.equal(await outcome(cb, succeed), 'ok')
  cb.enabled = true
  assert.equal(cb.state, 'closed')
  assert.equal(await outcome(cb, succeed), 'ok')
})

test('a slow call admitted before the breaker opened does not count as a trial', async () => {
  const { cb, clock } = breaker({ consecutiveFailures: 1 })
  const slow = deferred<string>()
  const slowCall = cb.execute(() => slow.promise)
  await outcome(cb, fail)
  await clock.advance(1000)
  assert.equal(cb.state, 'half-open')
  slow.resolve('late')
  assert.equal(await slowCall, 'late')
  assert.equal(cb.state, 'half-open', 'only a trial admitted in half-open can close it')
})
