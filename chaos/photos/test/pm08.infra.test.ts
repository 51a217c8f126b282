import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertReproduces, runExperiment } from '@faultline/lab'
import experiment from '../pm08-s3-outage.ts'

test('pm08 S3 outage during uploads: naive acknowledges and loses, hardened refuses and keeps (CI variant)', async () => {
  const summary = await runExperiment(experiment, { ci: true })
  assertReproduces(summary)
  const observed = (mode: 'naive' | 'hardened', name: string) =>
    String(summary.modes[mode]?.invariants.find((r) => r.name === name)?.observed)
  // Reproducing must mean lost bytes, not merely a slow drain: naive acknowledged uploads whose
  // original never reached S3.
  const lost = Number(/^(\d+) of/.exec(observed('naive', 'no 201 without a durable object'))?.[1])
  assert.ok(
    lost > 0,
    `naive should lose acknowledged originals, got ${observed('naive', 'no 201 without a durable object')}`,
  )
  // Hardened refused uploads during the outage (503s to k6), so it was tested against the outage.
  assert.match(observed('hardened', 'every upload answered'), /× 503/)
})
