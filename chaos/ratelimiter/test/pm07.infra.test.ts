import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm07-stale-rules-applier.ts'

test('pm07 stale rules applier: fails naive, holds hardened (CI variant)', async () => {
  const summary = await runExperiment(experiment, { ci: true })
  assertReproduces(summary)
  // Reproducing means at least one bad sample naive; the race must show both failures, each time.
  const naive = summary.modes.naive?.invariants ?? []
  const backwards = naive.find((r) => r.name === 'applied version never goes backwards')
  assert.match(
    String(backwards?.observed),
    /store/,
    `naive: Redis itself should go backwards, got ${backwards?.observed}`,
  )
  const refused = naive.find((r) => r.name === 'the stale applier is refused')
  assert.match(
    String(refused?.observed),
    /^0 of [1-9]/,
    `naive accepts every stale push, got ${refused?.observed}`,
  )
})
