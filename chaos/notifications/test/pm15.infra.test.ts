import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm15-worker-stopped-jobs-rerun.ts'

test('pm15 channel worker SIGSTOPped past its job lock: duplicates naive, exactly-once effect hardened (CI variant)', async () => {
  const summary = await runExperiment(experiment, { ci: true })
  assertReproduces(summary)
  // Hardened must have met the same fault: jobs of the stopped worker ran again, and the provider
  // answered some of them from their key instead of sending again.
  const rerun = summary.modes.hardened?.invariants.find((r) => r.name === 'the stops made jobs run again')
  assert.ok(rerun?.holds, `hardened: ${rerun?.observed}`)
})
