import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm06-retry-storm.ts'

test('pm06 retry storm: fails naive, holds hardened (CI variant)', async () => {
  const summary = await runExperiment(experiment, { ci: true })
  assertReproduces(summary)
  // Reproducing means naive > 1.1; a retry storm is every attempt retried, not a borderline 1.3.
  const attempts = summary.modes.naive?.invariants.find((r) => r.name === 'Redis attempts per decision')
  const perDecision = Number.parseFloat(String(attempts?.observed))
  assert.ok(perDecision > 3, `naive attempts per decision should be ≫ 1, got ${attempts?.observed}`)
})
