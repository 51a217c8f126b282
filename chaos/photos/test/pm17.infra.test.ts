import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm17-poison-image.ts'

test('pm17 poison job among good uploads: retried without end naive, dead-lettered hardened (CI variant)', async () => {
  const summary = await runExperiment(experiment, { ci: true })
  assertReproduces(summary)
  // Reproducing means the naive poison is still processing; retried past the hardened limit shows
  // it was not merely slow to start.
  const poison = summary.modes.naive?.invariants.find(
    (r) => r.name === 'the poison dead-lettered with its reason',
  )
  const tried = Number(/after (\d+) attempts/.exec(String(poison?.observed))?.[1])
  assert.ok(
    tried > 3,
    `naive should retry the poison more than JOB_ATTEMPTS (3) times, got ${poison?.observed}`,
  )
})
