import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm15-worker-killed-mid-batch.ts'

test('pm15 fan-out worker stopped and killed mid-batch: loses deliveries naive, none hardened (CI variant)', async () => {
  const summary = await runExperiment(experiment, { ci: true })
  assertReproduces(summary)
  // Reproducing means at least one missing delivery naive; the stop lands mid-batch, so what is
  // lost is at least one whole burst post (2 000 readers), not a stray insert.
  const check = summary.modes.naive?.invariants.find(
    (r) => r.name === 'every delivery present exactly once after the drain',
  )
  const missing = Number(/missing (\d+)/.exec(String(check?.observed))?.[1])
  assert.ok(
    missing >= 2000,
    `naive should lose at least one burst post's 2 000 deliveries, got ${check?.observed}`,
  )
})
