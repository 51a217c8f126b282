// The ratelimiter's switch manifest. How a manifest is parsed, updated and served is the kit's
// (packages/kit/test/switches.test.ts); these tests pin what is the ratelimiter's own.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { switches } from '../src/mitigations.ts'

test('defaults are the hardened service: every switch on', () => {
  assert.deepEqual(switches.fromEnv({}), switches.defaults())
  assert.ok(Object.values(switches.defaults()).every(Boolean))
})

test('the switch names the experiments rely on, and their env names', () => {
  assert.deepEqual(switches.names, [
    'decisionDeadline',
    'retryBackoff',
    'circuitBreaker',
    'localFallback',
    'rulesCompareAndSet',
  ])
  assert.equal(switches.envName('rulesCompareAndSet'), 'MITIGATION_RULES_COMPARE_AND_SET')
})

test('every catalog row a switch defends against exists in docs/postmortems.md, and pm06, pm07, pm19 are defended', () => {
  const catalog = readFileSync(new URL('../../../docs/postmortems.md', import.meta.url), 'utf8')
  const rows = new Set([...catalog.matchAll(/^\| (pm\d{2}) \|/gm)].map((m) => m[1]))
  const defended = new Set<string>()
  for (const name of switches.names) {
    for (const id of switches.specs[name].defends) {
      assert.ok(rows.has(id), `${name} defends ${id}`)
      defended.add(id)
    }
  }
  assert.deepEqual([...defended].sort(), ['pm06', 'pm07', 'pm19'])
})
