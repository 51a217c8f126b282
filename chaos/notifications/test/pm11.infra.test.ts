import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm11-ambiguous-provider-timeout.ts'

test('pm11 ambiguous provider timeouts: duplicates reach the recipient naive, one send per notification hardened (CI variant)', async () => {
  const summary = await runExperiment(experiment, { ci: true })
  assertReproduces(summary)
  // Naive, every timed-out attempt is sent: about 20 copies before the provider's breaker opens
  // (half of ≥ 20 calls failed), more from its probes — not a stray duplicate. And the service
  // believes it sent nothing: every delivery dead-lettered.
  const check = summary.modes.naive?.invariants.find(
    (r) => r.name === 'one send per notification at the provider',
  )
  const duplicates = Number(/^(\d+) duplicate sends/.exec(String(check?.observed))?.[1])
  assert.ok(duplicates >= 10, `naive should send many copies, got ${check?.observed}`)
  const sent = summary.modes.naive?.invariants.find((r) => r.name === 'every accepted notification sent')
  assert.match(String(sent?.observed), /^0 of \d+ accepted sent/)
})
