import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type AttemptEvent,
  backoffDelayMs,
  CircuitOpenError,
  Deadline,
  ManualClock,
  RetryBudget,
  retry,
  type Sleep,
  TimeoutError,
} from '../src/index.ts'
import { never, sequence, settledState } from './helpers.ts'

/** A sleep that records each delay and returns at once: no real or fake time passes. */
function recordingSleep() {
  const delays: number[] = []
  const sleep: Sleep = async (ms) => {
    delays.push(ms)
  }
  return { delays, sleep }
}

/** A dependency that fails `failures` times, then answers. */
function flaky(failures: number) {
  const calls: number[] = []
  const fn = async ({ attempt }: { attempt: number }) => {
    calls.push(attempt)
    if (calls.length <= failures) throw new Error(`failure ${calls.length}`)
    return 'ok'
  }
  return { calls, fn }
}

test('retries until success and reports every attempt', async () => {
  const { calls, fn } = flaky(2)
  const { sleep } = recordingSleep()
  const events: AttemptEvent[] = []
  const value = await retry(fn, {
    maxAttempts: 5,
    sleep,
    random: () => 0.5,
    onAttempt: (e) => events.push(e),
  })
  assert.equal(value, 'ok')
  assert.deepEqual(calls, [1, 2, 3])
  assert.deepEqual(
    events.map((e) => [e.attempt, e.outcome, e.delayMs]),
    [
      [1, 'failure', 50],
      [2, 'failure', 100],
      [3, 'success', undefined],
    ],
  )
})

test('gives up after maxAttempts and rethrows the last error', async () => {
  const { calls, fn } = flaky(10)
  const { sleep } = recordingSleep()
  const events: AttemptEvent[] = []
  await assert.rejects(retry(fn, { maxAttempts: 3, sleep, onAttempt: (e) => events.push(e) }), /failure 3/)
  assert.equal(calls.length, 3)
  assert.equal(events.at(-1)?.stop, 'max-attempts')
})

test('full-jitter sleeps are random() * min(cap, base * 2^n), from the injected random', async () => {
  const { fn } = flaky(6)
  const { delays, sleep } = recordingSleep()
  const random = sequence(0.5, 0.25, 1, 0.01, 0.75, 0.999)
  await retry(fn, { maxAttempts: 7, baseMs: 100, capMs: 1000, backoff: 'full-jitter', sleep, random })
  // Ceilings: 100, 200, 400, 800, 1000 (capped), 1000.
  assert.deepEqual(delays, [50, 50, 400, 8, 750, 999])
})

test('full-jitter sleeps stay within [0, cap] for any random in [0, 1)', () => {
  const policy = { baseMs: 100, capMs: 20_000 }
  for (let retryIndex = 0; retryIndex < 64; retryIndex++) {
    for (const r of [0, 0.3, 0.999_999]) {
      const delayMs = backoffDelayMs(retryIndex, policy, () => r)
      assert.ok(
        delayMs >= 0 && delayMs <= Math.min(20_000, 100 * 2 ** retryIndex),
        `${retryIndex}: ${delayMs}`,
      )
    }
  }
  assert.equal(backoffDelayMs(3, { backoff: 'exponential', baseMs: 100, capMs: 500 }), 500)
  assert.equal(backoffDelayMs(1, { backoff: 'exponential', baseMs: 100 }), 200)
})

test('equal-jitter sleeps half the ceiling plus a random half, and stays at the cap after many failures', () => {
  const policy = { backoff: 'equal-jitter', baseMs: 100, capMs: 5000 } as const
  // Ceilings 100, 200, 400: the sleep is within [ceiling/2, ceiling].
  assert.equal(
    backoffDelayMs(0, policy, () => 0),
    50,
  )
  assert.equal(
    backoffDelayMs(1, policy, () => 0.5),
    150,
  )
  assert.equal(
    backoffDelayMs(2, policy, () => 1),
    400,
  )
  // A loop that has failed for hours (the click publisher while Kafka is down) never overflows.
  for (const retryIndex of [30, 1_000, 100_000]) {
    const delayMs = backoffDelayMs(retryIndex, policy, () => 0.5)
    assert.equal(delayMs, 3750, `${retryIndex}: ${delayMs}`)
  }
})

test("backoff:'none' (the naive switch) retries at once, without ever sleeping", async () => {
  const naive = recordingSleep()
  await retry(flaky(4).fn, { maxAttempts: 5, backoff: 'none', sleep: naive.sleep, random: () => 0.5 })
  assert.deepEqual(naive.delays, [])

  const hardened = recordingSleep()
  await retry(flaky(4).fn, {
    maxAttempts: 5,
    backoff: 'full-jitter',
    sleep: hardened.sleep,
    random: () => 0.5,
  })
  assert.deepEqual(hardened.delays, [50, 100, 200, 400])
})

test('an exhausted retry budget stops retries', async () => {
  const budget = new RetryBudget({ ratio: 0.1, maxTokens: 2, initialTokens: 1 })
  const { sleep } = recordingSleep()
  const first = flaky(10)
  const events: AttemptEvent[] = []
  await assert.rejects(retry(first.fn, { maxAttempts: 5, budget, sleep, onAttempt: (e) => events.push(e) }))
  // One token: one retry, then the bucket (1 + 0.1 deposited − 1 = 0.1) has no whole token.
  assert.equal(first.calls.length, 2)
  assert.equal(events.at(-1)?.stop, 'budget')

  const second = flaky(10)
  await assert.rejects(retry(second.fn, { maxAttempts: 5, budget, sleep }))
  assert.equal(second.calls.length, 1, 'no retry without a whole token')
  const { tokens, withdrawn, refused } = budget.stats()
  assert.deepEqual({ withdrawn, refused }, { withdrawn: 1, refused: 2 })
  assert.ok(Math.abs(tokens - 0.2) < 1e-9, `${tokens} tokens`)
})

test('a retry budget bounds attempts per request at 1 + ratio under a total outage (pm06)', async () => {
  const { sleep } = recordingSleep()
  const run = async (budget: RetryBudget | undefined) => {
    let attempts = 0
    const failing = async () => {
      attempts++
      throw new Error('overloaded')
    }
    for (let i = 0; i < 100; i++) {
      await retry(failing, { maxAttempts: 5, backoff: 'none', budget, sleep }).catch(() => {})
    }
    return attempts
  }
  assert.equal(await run(undefined), 500, 'without a budget every request makes maxAttempts attempts')
  const withBudget = await run(new RetryBudget({ ratio: 0.1, initialTokens: 0 }))
  assert.ok(withBudget <= 110, `${withBudget} attempts for 100 requests`)
})

test('non-retryable errors stop at once; an open circuit is not retried by default', async () => {
  const { sleep } = recordingSleep()
  let calls = 0
  const events: AttemptEvent[] = []
  await assert.rejects(
    retry(
      async () => {
        calls++
        throw new CircuitOpenError('db', 1000)
      },
      { maxAttempts: 5, sleep, onAttempt: (e) => events.push(e) },
    ),
    CircuitOpenError,
  )
  assert.equal(calls, 1)
  assert.equal(events[0]?.stop, 'not-retryable')

  const custom = flaky(3)
  await assert.rejects(retry(custom.fn, { maxAttempts: 5, sleep, retryable: () => false }))
  assert.equal(custom.calls.length, 1)
})

test('never sleeps past the deadline: stops when the next sleep would outlast it', async () => {
  const clock = new ManualClock()
  const deadline = Deadline.after(150, { clock })
  const { calls, fn } = flaky(10)
  const events: AttemptEvent[] = []
  const result = retry(fn, {
    maxAttempts: 10,
    backoff: 'exponential',
    baseMs: 100,
    deadline,
    onAttempt: (e) => events.push(e),
  })
  const rejected = assert.rejects(result, /failure 2/)
  await clock.advance(100) // The first retry sleeps 100 ms; the second would sleep 200 > 50 left.
  await rejected
  assert.deepEqual(calls, [1, 2])
  assert.deepEqual(
    events.map((e) => e.stop ?? e.delayMs),
    [100, 'deadline'],
  )
})

test('each attempt gets its own timeout and its signal is aborted when it fires', async () => {
  const clock = new ManualClock()
  const signals: AbortSignal[] = []
  const result = retry(
    ({ signal, attempt }) => {
      signals.push(signal)
      return attempt < 3 ? never<string>() : Promise.resolve('third time lucky')
    },
    { maxAttempts: 3, backoff: 'none', attemptTimeoutMs: 500, clock },
  )
  await clock.advance(500)
  assert.equal(await settledState(result), 'pending')
  await clock.advance(500)
  assert.equal(await result, 'third time lucky')
  assert.equal(signals.length, 3)
  assert.ok(signals[0]?.reason instanceof TimeoutError)
  assert.ok(signals[1]?.reason instanceof TimeoutError)
  assert.equal(signals[2]?.aborted, false)
})

test("aborting the caller's signal during the backoff sleep ends the retries", async () => {
  const clock = new ManualClock()
  const caller = new AbortController()
  const { calls, fn } = flaky(10)
  const result = retry(fn, {
    maxAttempts: 5,
    backoff: 'exponential',
    baseMs: 100,
    signal: caller.signal,
    clock,
  })
  await clock.advance(50)
  caller.abort(new Error('request cancelled'))
  await assert.rejects(result, /request cancelled/)
  assert.equal(calls.length, 1)
})
