/**
 * The one mapping from a rule's failure policy name and the switches to the library's policy,
 * shared by the gateway and the decision service: all switches on is the hardened client, all off
 * is pm06's naive one, and each switch moves exactly its own part.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hardenedFailurePolicy, naiveFailurePolicy } from '@faultline/ratelimit'
import { failurePolicyFor } from '../src/failure-policy.ts'
import { switches } from '../src/mitigations.ts'

const on = switches.defaults()
const off = Object.fromEntries(Object.keys(on).map((name) => [name, false])) as typeof on
const options = { deadlineMs: 7, instances: 4 }

test('every switch on: the hardened policy with this service deadline', () => {
  assert.deepEqual(failurePolicyFor('open', on, options), { ...hardenedFailurePolicy, deadlineMs: 7 })
  assert.equal(failurePolicyFor('closed', on, options).onFailure, 'closed')
})

test('every switch off: the naive client of pm06, whatever the rule says', () => {
  assert.deepEqual(failurePolicyFor('open', off, options), naiveFailurePolicy)
  assert.deepEqual(failurePolicyFor('local', off, options), naiveFailurePolicy)
  assert.equal(
    failurePolicyFor('closed', off, options).onFailure,
    'closed',
    'fail-closed is the rule, not a mitigation',
  )
})

test('local: an in-process bucket of 1/instances of the limit, while localFallback is on', () => {
  const policy = failurePolicyFor('local', on, options)
  assert.equal(policy.onFailure, 'local')
  assert.deepEqual(policy.localBucket, { limitShare: 0.25 })
})

test('each switch changes only its part', () => {
  assert.equal(failurePolicyFor('open', { ...on, decisionDeadline: false }, options).deadlineMs, null)
  assert.equal(failurePolicyFor('open', { ...on, circuitBreaker: false }, options).breaker, false)
  assert.deepEqual(
    failurePolicyFor('open', { ...on, retryBackoff: false }, options).retry,
    naiveFailurePolicy.retry,
  )
})
