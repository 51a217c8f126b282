import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  defaultMitigations,
  MitigationState,
  mitigationEnvName,
  mitigationNames,
  mitigationsFromEnv,
} from '../src/mitigations.ts'

test('defaults are the hardened service: every switch on', () => {
  assert.deepEqual(mitigationsFromEnv({}), defaultMitigations)
  assert.ok(Object.values(defaultMitigations).every(Boolean))
})

test('env names follow the lab convention', () => {
  assert.equal(mitigationEnvName('singleFlight'), 'MITIGATION_SINGLE_FLIGHT')
  assert.equal(mitigationEnvName('readinessIndependentOfDeps'), 'MITIGATION_READINESS_INDEPENDENT_OF_DEPS')
  assert.equal(mitigationEnvName('ttlJitter'), 'MITIGATION_TTL_JITTER')
})

test('MITIGATIONS JSON, then MITIGATION_<NAME>, override the defaults', () => {
  const m = mitigationsFromEnv({
    MITIGATIONS: JSON.stringify({ singleFlight: false, clickSpool: false }),
    MITIGATION_CLICK_SPOOL: 'true',
    MITIGATION_NEGATIVE_CACHE: 'off',
  })
  assert.equal(m.singleFlight, false)
  assert.equal(m.clickSpool, true)
  assert.equal(m.negativeCache, false)
  assert.equal(m.ttlJitter, true)
})

test('unknown switches and non-booleans are refused, all at once', () => {
  assert.throws(
    () =>
      mitigationsFromEnv({
        MITIGATIONS: '{"singleFlite":true,"ttlJitter":"yes"}',
        MITIGATION_CLICK_SPOOL: 'maybe',
      }),
    (err: Error) =>
      /singleFlite/.test(err.message) &&
      /ttlJitter/.test(err.message) &&
      /MITIGATION_CLICK_SPOOL/.test(err.message),
  )
  assert.throws(() => mitigationsFromEnv({ MITIGATIONS: '[1]' }), /JSON object/)
  assert.throws(() => mitigationsFromEnv({ MITIGATIONS: '{' }), /not valid JSON/)
})

test('the live state applies partial updates, refuses unknown names atomically, and notifies', () => {
  const state = new MitigationState(defaultMitigations)
  const seen: boolean[] = []
  state.subscribe((m) => seen.push(m.singleFlight))
  state.update({ singleFlight: false })
  assert.equal(state.current.singleFlight, false)
  assert.throws(() => state.update({ singleFlight: true, nope: true }), /nope/)
  assert.equal(state.current.singleFlight, false, 'nothing changed on a refused update')
  assert.deepEqual(seen, [true, false])
  const snapshot = state.snapshot()
  snapshot.ttlJitter = false
  assert.equal(state.current.ttlJitter, true, 'a snapshot is a copy')
  assert.deepEqual(Object.keys(state.snapshot()).sort(), [...mitigationNames].sort())
})
