import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { K6Sample } from '../src/k6-csv.ts'
import { isFailure, planSteps, StepAggregator } from '../src/steps.ts'

function request(timeMs: number, value: number, step: string, status = 302): K6Sample {
  return {
    metric: 'http_req_duration',
    timeMs,
    value,
    tags: { step, status: String(status), expected_response: status < 400 ? 'true' : 'false' },
  }
}

test('planSteps climbs from the start rate by the step up to the max, inclusive', () => {
  const plan = planSteps({ startRate: 500, step: 500, maxRate: 2000, holdSeconds: 6 })
  assert.deepEqual(
    plan.map((p) => [p.step, p.targetRps]),
    [
      ['01', 500],
      ['02', 1000],
      ['03', 1500],
      ['04', 2000],
    ],
  )
  assert.equal(planSteps({ startRate: 500, step: 500, maxRate: 1999, holdSeconds: 6 }).length, 3)
  assert.throws(() => planSteps({ startRate: 0, step: 1, maxRate: 2, holdSeconds: 1 }), RangeError)
})

test('a failure is what k6 marked unexpected, else a status outside 2xx/3xx', () => {
  assert.equal(isFailure({ expected_response: 'true', status: '500' }), false)
  assert.equal(isFailure({ expected_response: 'false', status: '302' }), true)
  assert.equal(isFailure({ status: '302' }), false)
  assert.equal(isFailure({ status: '0' }), true)
})

test('steps count plateau requests only; goodput, errors, latency and dropped iterations per step', () => {
  const plan = planSteps({ startRate: 10, step: 10, maxRate: 30, holdSeconds: 2 })
  const agg = new StepAggregator()
  const t = 1_000_000
  // Ramp into step 01: ignored by the step, counted per second.
  agg.add(request(t - 500, 100, 'ramp-01'))
  // Step 01: 20 requests over 2 s, all fast.
  for (let i = 0; i < 20; i++) agg.add(request(t + i * 100, 1, '01'))
  // Step 02: 40 requests, 4 of them failed, one slow.
  for (let i = 0; i < 40; i++)
    agg.add(request(t + 3000 + i * 50, i === 7 ? 80 : 2, '02', i % 10 === 0 ? 503 : 302))
  // One dropped iteration during step 02, one during a ramp (between plateaus).
  agg.add({ metric: 'dropped_iterations', timeMs: t + 3500, value: 1, tags: {} })
  agg.add({ metric: 'dropped_iterations', timeMs: t + 2500, value: 1, tags: {} })
  agg.add({ metric: 'http_reqs', timeMs: t, value: 1, tags: {} })

  const [one, two, three] = agg.steps(plan)
  assert.equal(one?.requests, 20)
  assert.equal(one?.achievedRps, 10)
  assert.equal(one?.errorRate, 0)
  assert.equal(one?.latency.p99Ms, 1)
  assert.equal(one?.dropped, 0)
  assert.equal(two?.requests, 40)
  assert.equal(two?.failures, 4)
  assert.equal(two?.achievedRps, 18)
  assert.equal(two?.errorRate, 0.1)
  assert.equal(two?.latency.maxMs, 80)
  assert.equal(two?.dropped, 1)
  assert.equal(three?.requests, 0)
  assert.equal(three?.achievedRps, 0)
  assert.equal(agg.requests, 61)
  assert.equal(agg.droppedTotal(), 2)
  const seconds = agg.perSecond()
  assert.deepEqual(
    seconds.map((s) => s.requests),
    [1, 10, 10, 0, 20, 20],
  )
  assert.equal(
    seconds.reduce((n, s) => n + s.dropped, 0),
    2,
  )
  assert.deepEqual([...agg.droppedBySecond().values()], [1, 1])
})
