import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm07-backlog-timeout.ts'

test('pm07 workers back to a backlog: jobs expire before they start naive, the backlog drains hardened (CI variant)', async () => {
  const summary = await runExperiment(experiment, { ci: true })
  assertReproduces(summary)
  // Reproducing must mean the timeout's clock, not a slow drain: naive jobs failed "job expired".
  const late = summary.modes.naive?.invariants.find((r) => r.name === 'no job late before it starts')
  const expired = Number(/^(\d+) jobs late/.exec(String(late?.observed))?.[1])
  assert.ok(expired > 0, `naive jobs of the backlog should expire before they start, got ${late?.observed}`)
})
