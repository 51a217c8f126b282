// The shortener's switch manifest. How a manifest is parsed, updated and served is the kit's
// (packages/kit/test/switches.test.ts); these tests pin what is the shortener's own.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { ConfigError } from '@faultline/kit/config'
import { createMitigationState, switches } from '../src/mitigations.ts'

test('defaults are the hardened service: every switch on', () => {
  assert.deepEqual(switches.fromEnv({}), switches.defaults())
  assert.ok(Object.values(switches.defaults()).every(Boolean))
})

test('the switch names the experiments and the lab rely on, and their env names', () => {
  assert.deepEqual(switches.names, [
    'singleFlight',
    'ttlJitter',
    'staleWhileRevalidate',
    'negativeCache',
    'coldPathLimit',
    'readinessIndependentOfDeps',
    'clickSpool',
    'migrationLockTimeout',
  ])
  assert.equal(switches.envName('singleFlight'), 'MITIGATION_SINGLE_FLIGHT')
  assert.equal(switches.envName('readinessIndependentOfDeps'), 'MITIGATION_READINESS_INDEPENDENT_OF_DEPS')
  assert.equal(switches.envName('ttlJitter'), 'MITIGATION_TTL_JITTER')
})

test('every catalog row a switch defends against exists in docs/postmortems.md', () => {
  const catalog = readFileSync(new URL('../../../docs/postmortems.md', import.meta.url), 'utf8')
  const rows = new Set([...catalog.matchAll(/^\| (pm\d{2}) \|/gm)].map((m) => m[1]))
  for (const name of switches.names) {
    for (const id of switches.specs[name].defends) assert.ok(rows.has(id), `${name} defends ${id}`)
  }
})

test('MITIGATIONS JSON, then MITIGATION_<NAME>, override the defaults', () => {
  const m = switches.fromEnv({
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
      switches.fromEnv({
        MITIGATIONS: '{"singleFlite":true,"ttlJitter":"yes"}',
        MITIGATION_CLICK_SPOOL: 'maybe',
      }),
    (err: Error) =>
      err instanceof ConfigError &&
      /singleFlite/.test(err.message) &&
      /ttlJitter/.test(err.message) &&
      /MITIGATION_CLICK_SPOOL/.test(err.message),
  )
  assert.throws(() => switches.fromEnv({ MITIGATIONS: '[1]' }), /JSON object/)
  assert.throws(() => switches.fromEnv({ MITIGATIONS: '{' }), /not valid JSON/)
})

test('the live state applies partial updates, refuses unknown names atomically, and notifies', () => {
  const state = createMitigationState(switches.defaults())
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
  assert.deepEqual(Object.keys(state.snapshot()).sort(), [...switches.names].sort())
})
