import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm21-event-loop-locks.ts'

test('pm21 image work on the event loop: naive jobs run twice, hardened each once (CI variant)', async () => {
  const summary = await runExperiment(experiment, { ci: true })
  assertReproduces(summary)
  // Reproducing must mean lapsed locks, not a slow burst: naive jobs were found stalled and rerun.
  const once = summary.modes.naive?.invariants.find((r) => r.name === 'each job runs once')
  const stalled = Number(/; (\d+) lapsed job locks found/.exec(String(once?.observed))?.[1])
  const reruns = Number(/, (\d+) of them again after a lapsed lock/.exec(String(once?.observed))?.[1])
  assert.ok(stalled > 0, `naive jobs should lose their locks, got ${once?.observed}`)
  assert.ok(reruns > 0, `naive jobs should run again after losing their locks, got ${once?.observed}`)
})
