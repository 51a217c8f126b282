import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm17-relay-outage-poison-ttl.ts'

test('pm17 relay outage, poison and short TTLs: drops and sends stale naive, balanced hardened (CI variant)', async () => {
  const summary = await runExperiment(experiment, { ci: true })
  assertReproduces(summary)
  // Naive must fail every one of the three for its own reason: the dropped poison left open,
  // stale sends, no alert.
  const naive = summary.modes.naive?.invariants ?? []
  for (const name of ['balance once drained', 'nothing sent past its TTL', 'dead-letter alert fires']) {
    const r = naive.find((i) => i.name === name)
    assert.equal(r?.holds, false, `naive should fail "${name}", got ${r?.observed}`)
  }
})
